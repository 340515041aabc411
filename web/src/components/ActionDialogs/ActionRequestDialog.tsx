import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Field,
  MessageBar,
  MessageBarBody,
  Textarea,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useState } from 'react';
import type { FormEvent, ReactNode } from 'react';

import { ApiError, requestAction } from '../../api/client';
import type { ActionDetail, ActionType, DeviceDetail } from '../../api/types';
import { MAX_COMMENT } from '../../lib/actionLabels';
import { commentError } from './actionForms';
import type { FormResult } from './actionForms';

const useStyles = makeStyles({
  content: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
});

/** The server's words for a refused request, with the fields it names. */
function problemText(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = (error.problem.errors ?? []).map((e) => `${e.field}: ${e.message}`);
    const hint = error.problem.hint ? ` ${error.problem.hint}` : '';
    return `${error.message}${fields.length ? ` (${fields.join('; ')})` : ''}${hint}`;
  }
  return error instanceof Error ? error.message : String(error);
}

interface ActionRequestDialogProps<T> {
  device: DeviceDetail;
  type: ActionType;
  title: string;
  /** What the action does, and what it leaves in place. */
  description: ReactNode;
  /** The action's own fields, if it has any. */
  children?: ReactNode;
  /** The parameters from the action's own fields, or their problems. */
  parameters: () => FormResult<T>;
  submitLabel: string;
  testId: string;
  onClose: () => void;
  /** Called with the action the server made (state "requested"). */
  onRequested: (action: ActionDetail) => void;
}

/**
 * The frame of every containment request: the action's fields, the required comment, and
 * the server's refusal in words if there is one. Requesting is not doing: the caller shows
 * the action as requested until the device reports on it.
 */
export function ActionRequestDialog<T extends object>(props: ActionRequestDialogProps<T>) {
  const { device, type, title, description, children, parameters, submitLabel, testId } = props;
  const styles = useStyles();
  const [comment, setComment] = useState('');
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const missingComment = touched ? commentError(comment) : null;

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setTouched(true);
    const form = parameters();
    if (commentError(comment) !== null || Object.keys(form.errors).length > 0) return;
    setBusy(true);
    setError(null);
    try {
      const action = await requestAction(device.id, {
        type,
        parameters: form.parameters as Record<string, unknown>,
        comment: comment.trim(),
      });
      props.onRequested(action);
    } catch (failure) {
      setError(problemText(failure));
      setBusy(false);
    }
  };

  return (
    <Dialog open onOpenChange={(_, data) => !data.open && props.onClose()}>
      <DialogSurface data-testid={testId}>
        <form onSubmit={(event) => void submit(event)} noValidate>
          <DialogBody>
            <DialogTitle>
              {title}: {device.name}
            </DialogTitle>
            <DialogContent className={styles.content}>
              {description}
              {children}
              <Field
                label="Comment"
                required
                hint="Why: kept with the action and in the audit log."
                validationState={missingComment === null ? 'none' : 'error'}
                validationMessage={missingComment ?? undefined}
              >
                <Textarea
                  value={comment}
                  maxLength={MAX_COMMENT}
                  resize="vertical"
                  onChange={(_, data) => setComment(data.value)}
                  data-testid="action-comment"
                />
              </Field>
              {error !== null && (
                <MessageBar intent="error" layout="multiline" data-testid="action-request-error">
                  <MessageBarBody>Nothing was requested: {error}</MessageBarBody>
                </MessageBar>
              )}
            </DialogContent>
            <DialogActions>
              <Button onClick={props.onClose}>Cancel</Button>
              <Button
                type="submit"
                appearance="primary"
                disabled={busy}
                data-testid="action-submit"
              >
                {busy ? 'Requesting…' : submitLabel}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}
