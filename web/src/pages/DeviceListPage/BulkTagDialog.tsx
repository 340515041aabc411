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
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { CheckmarkCircleRegular, ErrorCircleRegular } from '@fluentui/react-icons';
import { useState } from 'react';
import type { FormEvent } from 'react';

import { addTags } from '../../api/client';
import type { DeviceSummary } from '../../api/types';

const useStyles = makeStyles({
  content: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  results: { margin: 0, padding: 0, listStyleType: 'none' },
  result: { display: 'flex', gap: tokens.spacingHorizontalS, alignItems: 'baseline' },
  ok: { color: tokens.colorPaletteGreenForeground1 },
  failed: { color: tokens.colorPaletteRedForeground1 },
});

interface Outcome {
  device: DeviceSummary;
  error: string | null;
}

interface BulkTagDialogProps {
  devices: DeviceSummary[];
  onClose: () => void;
  onChanged: () => void;
}

/** Add one tag to the selected devices; says for each device whether it worked. */
export function BulkTagDialog({ devices, onClose, onChanged }: BulkTagDialogProps) {
  const styles = useStyles();
  const [tag, setTag] = useState('');
  const [busy, setBusy] = useState(false);
  const [outcomes, setOutcomes] = useState<Outcome[] | null>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    const results: Outcome[] = [];
    for (const device of devices) {
      try {
        await addTags(device.id, [tag.trim()]);
        results.push({ device, error: null });
      } catch (error) {
        results.push({ device, error: error instanceof Error ? error.message : String(error) });
      }
    }
    setOutcomes(results);
    setBusy(false);
    onChanged();
  };

  return (
    <Dialog open onOpenChange={(_, data) => !data.open && onClose()}>
      <DialogSurface data-testid="bulk-tag-dialog">
        <form onSubmit={(event) => void submit(event)}>
          <DialogBody>
            <DialogTitle>
              Add a tag to {devices.length} {devices.length === 1 ? 'device' : 'devices'}
            </DialogTitle>
            <DialogContent className={styles.content}>
              {outcomes === null ? (
                <Field label="Tag" hint="Letters, digits, spaces and . : @ + - _" required>
                  <Input
                    value={tag}
                    maxLength={64}
                    onChange={(_, data) => setTag(data.value)}
                    data-testid="bulk-tag-name"
                  />
                </Field>
              ) : (
                <ul className={styles.results} aria-label="Results">
                  {outcomes.map(({ device, error }) => (
                    <li key={device.id} className={styles.result}>
                      {error === null ? (
                        <CheckmarkCircleRegular className={styles.ok} aria-label="Tagged" />
                      ) : (
                        <ErrorCircleRegular className={styles.failed} aria-label="Failed" />
                      )}
                      <span>
                        {device.name}: {error === null ? `tagged “${tag.trim()}”` : error}
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
                    disabled={busy || tag.trim() === ''}
                    data-testid="bulk-tag-submit"
                  >
                    {busy ? 'Adding…' : 'Add tag'}
                  </Button>
                </>
              ) : (
                <Button appearance="primary" onClick={onClose}>
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
