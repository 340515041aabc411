import { Dropdown, Field, Option, makeStyles } from '@fluentui/react-components';
import { useId } from 'react';

import { formatCount } from '../../lib/format';

const useStyles = makeStyles({ root: { minWidth: '220px' } });

interface TimelineKindFilterProps {
  /** Events per kind in the chart's range; null while they load. */
  totals: Readonly<Record<string, number>> | null;
  selected: readonly string[];
  onChange: (kinds: string[]) => void;
}

/**
 * The kinds of events to list: several at once, or all when none is chosen.
 * Limitation: the count beside each kind is of the chart's whole range, which the histogram
 * has counted, not of the narrower window the list shows.
 */
export function TimelineKindFilter({ totals, selected, onChange }: TimelineKindFilterProps) {
  const styles = useStyles();
  const id = useId();
  // A chosen kind stays offered even when the range has none of it, so it can be cleared.
  const kinds = [...new Set([...Object.keys(totals ?? {}), ...selected])].sort();
  return (
    <Field label={{ children: 'Event kinds', htmlFor: id }} className={styles.root}>
      <Dropdown
        id={id}
        multiselect
        clearable
        placeholder="All kinds"
        selectedOptions={[...selected]}
        value={selected.join(', ')}
        onOptionSelect={(_, data) => onChange(data.selectedOptions)}
        data-testid="filter-kinds"
      >
        {kinds.map((kind) => (
          <Option key={kind} value={kind} text={kind} data-testid={`kind-option-${kind}`}>
            {`${kind} (${formatCount(totals?.[kind] ?? 0)})`}
          </Option>
        ))}
      </Dropdown>
    </Field>
  );
}
