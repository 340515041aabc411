import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Field,
  Input,
  MessageBar,
  MessageBarBody,
  Radio,
  RadioGroup,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { CheckmarkCircleRegular, ErrorCircleRegular, InfoRegular } from '@fluentui/react-icons';
import { useState } from 'react';
import type { FormEvent } from 'react';

import { bulkTags } from '../../api/client';
import type { DeviceSummary } from '../../api/types';
import { bulkOutcomes } from './bulkTags';
import type { BulkMode, BulkOutcome } from './bulkTags';

const useStyles = makeStyles({
  content: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  results: { margin: 0, padding: 0, listStyleType: 'none' },
  result: { display: 'flex', gap: tokens.spacingHorizontalS, alignItems: 'baseline' },
  ok: { color: tokens.colorPaletteGreenForeground1 },
  same: { color: tokens.colorNeutralForeground3 },
  failed: { color: tokens.colorPaletteRedForeground1 },
});

interface BulkTagDialogProps {
  devices: DeviceSummary[];
  onClose: () => void;
  onChanged: () => void;
}

/** Add a user tag to, or remove one from, the selected devices; says how each device fared. */
export function BulkTagDialog({ devices, onClose, onChanged }: BulkTagDialogProps) {
  const styles = useStyles();
  const [mode, setMode] = useState<BulkMode>('add');
  const [tag, setTag] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [outcomes, setOutcomes] = useState<BulkOutcome[] | null>(null);
  const name = tag.trim();

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await bulkTags({
        device_ids: devices.map((device) => device.id),
        add: mode === 'add' ? [name] : [],
        remove: mode === 'remove' ? [name] : [],
      });
      setOutcomes(bulkOutcomes(devices, answer.results, mode, name));
      onChanged();
    } catch (failure) {
      // The whole request was refused (a system tag, say): nothing changed on any device.
      setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };

  const count = `${devices.length} ${devices.length === 1 ? 'device' : 'devices'}`;
  return (
    <Dialog open onOpenChange={(_, data) => !data.open && onClose()}>
      <DialogSurface data-testid="bulk-tag-dialog">
        <form onSubmit={(event) => void submit(event)}>
          <DialogBody>
            <DialogTitle>Tags of {count}</DialogTitle>
            <DialogContent className={styles.content}>
              {outcomes === null ? (
                <>
                  <Field label="Change">
                    <RadioGroup
                      layout="horizontal"
                      value={mode}
                      onChange={(_, data) => setMode(data.value as BulkMode)}
                      data-testid="bulk-tag-mode"
                    >
                      <Radio value="add" label="Add a tag" />
                      <Radio value="remove" label="Remove a tag" />
                    </RadioGroup>
                  </Field>
                  <Field
                    label="Tag"
                    hint="A user tag: letters, digits, spaces and . : @ + - _. System tags are set by Hostwatch only."
                    required
                  >
                    <Input
                      value={tag}
                      maxLength={64}
                      onChange={(_, data) => setTag(data.value)}
                      data-testid="bulk-tag-name"
                    />
                  </Field>
                  {error !== null && (
                    <MessageBar intent="error" layout="multiline" data-testid="bulk-tag-error">
                      <MessageBarBody>No device was changed: {error}</MessageBarBody>
                    </MessageBar>
                  )}
                </>
              ) : (
                <ul className={styles.results} aria-label="Results">
                  {outcomes.map(({ device, text, kind }) => (
                    <li key={device.id} className={styles.result} data-testid="bulk-tag-result">
                      {kind === 'changed' && (
                        <CheckmarkCircleRegular className={styles.ok} aria-label="Changed" />
                      )}
                      {kind === 'unchanged' && (
                        <InfoRegular className={styles.same} aria-label="Unchanged" />
                      )}
                      {kind === 'failed' && (
                        <ErrorCircleRegular className={styles.failed} aria-label="Failed" />
                      )}
                      <span>
                        {device.name}: {text}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </DialogContent>
            <DialogActions>
              {outcomes === null ? (
                <>
                  <Button onClick={onClose}>Cancel</Button>
                  <Button
                    type="submit"
                    appearance="primary"
                    disabled={busy || name === ''}
                    data-testid="bulk-tag-submit"
                  >
                    {busy ? 'Saving…' : mode === 'add' ? 'Add tag' : 'Remove tag'}
                  </Button>
                </>
              ) : (
                <Button appearance="primary" onClick={onClose} data-testid="bulk-tag-done">
                  Done
                </Button>
              )}
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}
