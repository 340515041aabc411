import { Button, Field, Input, ToggleButton, makeStyles, tokens } from '@fluentui/react-components';
import { useEffect, useState } from 'react';
import type { FormEvent } from 'react';

import {
  PRESETS,
  fromLocalInput,
  matchingPreset,
  presetRange,
  rangeProblem,
  toLocalInput,
} from './ranges';
import type { TimeRange } from './ranges';

const useStyles = makeStyles({
  root: {
    display: 'flex',
    flexWrap: 'wrap',
    alignItems: 'flex-end',
    gap: tokens.spacingHorizontalM,
  },
  presets: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalXS },
  input: { width: '230px' },
});

interface DateRangePickerProps {
  value: TimeRange;
  /** Where the presets end: just after the device's newest event. */
  presetEnd: Date;
  onChange: (range: TimeRange) => void;
}

/**
 * A time range: presets that end at the newest event, or a start and an end typed in the
 * viewer's local time and applied together (Enter or the Apply button).
 */
export function DateRangePicker({ value, presetEnd, onChange }: DateRangePickerProps) {
  const styles = useStyles();
  const [fromText, setFromText] = useState(toLocalInput(value.from));
  const [toText, setToText] = useState(toLocalInput(value.to));
  const [tried, setTried] = useState(false);

  // A new range from outside (the chart, Back, a link) replaces what was typed.
  const fromMs = value.from.getTime();
  const toMs = value.to.getTime();
  useEffect(() => {
    setFromText(toLocalInput(new Date(fromMs)));
    setToText(toLocalInput(new Date(toMs)));
    setTried(false);
  }, [fromMs, toMs]);

  const from = fromLocalInput(fromText);
  const to = fromLocalInput(toText);
  const problem = rangeProblem(from, to);
  const active = matchingPreset(value, presetEnd);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    if (problem === null && from !== null && to !== null) onChange({ from, to });
  };

  return (
    <form className={styles.root} onSubmit={apply} aria-label="Time range">
      <div className={styles.presets} role="group" aria-label="Time range presets">
        {PRESETS.map((preset) => (
          <ToggleButton
            key={preset.id}
            checked={active === preset.id}
            onClick={() => onChange(presetRange(preset.id, presetEnd))}
            data-testid={`range-preset-${preset.id}`}
          >
            {preset.label}
          </ToggleButton>
        ))}
      </div>
      <Field
        label="From"
        validationState={tried && problem !== null ? 'error' : 'none'}
        validationMessage={tried ? problem : undefined}
      >
        <Input
          type="datetime-local"
          step={1}
          className={styles.input}
          value={fromText}
          onChange={(_, data) => setFromText(data.value)}
          data-testid="range-from"
        />
      </Field>
      <Field label="To (not included)">
        <Input
          type="datetime-local"
          step={1}
          className={styles.input}
          value={toText}
          onChange={(_, data) => setToText(data.value)}
          data-testid="range-to"
        />
      </Field>
      <Button type="submit" data-testid="range-apply">
        Apply
      </Button>
    </form>
  );
}
