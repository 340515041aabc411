import {
  Button,
  Caption1,
  Field,
  Input,
  MessageBar,
  MessageBarBody,
  Subtitle2,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useState } from 'react';
import type { FormEvent, ReactNode } from 'react';

import { cancelAction, getAction } from '../../api/client';
import type { ActionDetail, Role } from '../../api/types';
import { DateTime } from '../../components/DateTime/DateTime';
import { ErrorState } from '../../components/ErrorState/ErrorState';
import { Flyout } from '../../components/Flyout/Flyout';
import { FlyoutLink } from '../../components/FlyoutLink/FlyoutLink';
import { LoadingState } from '../../components/LoadingState/LoadingState';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { PropertyList } from '../../components/PropertyList/PropertyList';
import { roleAllows, roleNeeded } from '../../components/ResponseActionsBar/responseActions';
import { useCurrentUser } from '../../components/SessionProvider/SessionProvider';
import { useApiQuery } from '../../hooks/useApiQuery';
import {
  ACTION_TYPES,
  MAX_COMMENT,
  actionTimeline,
  actionTypeLabel,
  pendingText,
  prettyJson,
} from '../../lib/actionLabels';
import { ActionStateBadge } from './ActionStateBadge';

const useStyles = makeStyles({
  body: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalL },
  section: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS },
  heading: { margin: 0 },
  muted: { color: tokens.colorNeutralForeground3 },
  json: {
    margin: 0,
    padding: tokens.spacingVerticalS,
    maxHeight: '320px',
    overflow: 'auto',
    fontFamily: tokens.fontFamilyMonospace,
    fontSize: tokens.fontSizeBase200,
    whiteSpace: 'pre-wrap',
    overflowWrap: 'anywhere',
    backgroundColor: tokens.colorNeutralBackground3,
    borderRadius: tokens.borderRadiusMedium,
  },
  steps: {
    margin: 0,
    paddingLeft: tokens.spacingHorizontalL,
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalXS,
  },
  todo: { color: tokens.colorNeutralForeground3 },
  cancel: { display: 'flex', alignItems: 'flex-end', gap: tokens.spacingHorizontalM },
  grow: { flexGrow: 1 },
  text: { overflowWrap: 'anywhere', whiteSpace: 'pre-wrap' },
});

/** The role that may cancel an action: as for asking for it (containment: responder). */
export function cancelRole(type: string): Role {
  return (ACTION_TYPES as readonly string[]).includes(type) ? 'responder' : 'analyst';
}

function Section({ id, title, children }: { id: string; title: string; children: ReactNode }) {
  const styles = useStyles();
  return (
    <section className={styles.section} aria-labelledby={id}>
      <Subtitle2 as="h3" id={id} className={styles.heading}>
        {title}
      </Subtitle2>
      {children}
    </section>
  );
}

/** Values from the device, as indented JSON text: shown, never interpreted. */
function Json({ value, testId }: { value: unknown; testId: string }) {
  const styles = useStyles();
  return (
    <pre className={styles.json} data-testid={testId} tabIndex={0}>
      {prettyJson(value)}
    </pre>
  );
}

function CancelForm({ action, onCancelled }: { action: ActionDetail; onCancelled: () => void }) {
  const styles = useStyles();
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await cancelAction(action.id, { comment: comment.trim() || null });
      onCancelled();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <form className={styles.cancel} onSubmit={(event) => void submit(event)}>
        <Field label="Why cancel (optional)" className={styles.grow}>
          <Input
            value={comment}
            maxLength={MAX_COMMENT}
            onChange={(_, data) => setComment(data.value)}
            data-testid="cancel-comment"
          />
        </Field>
        <Button type="submit" disabled={busy} data-testid="cancel-action">
          {busy ? 'Cancelling…' : 'Cancel action'}
        </Button>
      </form>
      {error !== null && (
        <MessageBar intent="error" layout="multiline" data-testid="cancel-error">
          <MessageBarBody>The action was not cancelled: {error}</MessageBarBody>
        </MessageBar>
      )}
    </>
  );
}

interface ActionBodyProps {
  action: ActionDetail;
  showDevice: boolean;
  onLeave: () => void;
  onChanged: () => void;
}

function ActionBody({ action, showDevice, onLeave, onChanged }: ActionBodyProps) {
  const styles = useStyles();
  const user = useCurrentUser();
  const prefix = `action-${action.id}`;
  const waiting = pendingText(action.type, action.state);
  const needed = cancelRole(action.type);

  return (
    <div className={styles.body} data-testid="action-flyout">
      <PropertyList
        items={[
          {
            label: 'State',
            value: (
              <>
                <ActionStateBadge state={action.state} />
                {waiting !== null && (
                  <div>
                    <Caption1 data-testid="action-waiting">{waiting}</Caption1>
                  </div>
                )}
              </>
            ),
            testId: 'action-flyout-state',
          },
          ...(showDevice
            ? [
                {
                  label: 'Device',
                  value: (
                    <FlyoutLink
                      to={`/devices/${encodeURIComponent(action.device_id)}`}
                      onLeave={onLeave}
                    >
                      {action.device_name}
                    </FlyoutLink>
                  ),
                },
              ]
            : []),
          { label: 'Requested by', value: action.requested_by, testId: 'action-requested-by' },
          {
            label: 'Comment',
            value: action.comment ? (
              <span className={styles.text}>{action.comment}</span>
            ) : (
              <NotKnown>None</NotKnown>
            ),
            testId: 'action-comment-text',
          },
          { label: 'Expires', value: <DateTime value={action.expires_at} /> },
          {
            label: 'Message',
            value: action.message ? (
              <span className={styles.text}>{action.message}</span>
            ) : (
              <NotKnown>None</NotKnown>
            ),
            testId: 'action-message',
          },
        ]}
      />
      {action.state === 'requested' && (
        <Section id={`${prefix}-cancel`} title="Cancel">
          {roleAllows(user.role, needed) ? (
            <>
              <Caption1 className={styles.muted}>
                The device has not received this action yet, so it can still be cancelled.
              </Caption1>
              <CancelForm action={action} onCancelled={onChanged} />
            </>
          ) : (
            <Caption1 className={styles.muted} data-testid="cancel-not-allowed">
              Only a user with the {needed} role or higher can cancel this action.{' '}
              {roleNeeded(user.role, needed)}
            </Caption1>
          )}
        </Section>
      )}
      <Section id={`${prefix}-timeline`} title="Timeline">
        <ol className={styles.steps} data-testid="action-timeline">
          {actionTimeline(action).map((step) => (
            <li key={step.label} className={step.done ? undefined : styles.todo}>
              {step.label}
              {step.done ? (
                <>
                  {' '}
                  <DateTime value={step.at} missing="time not recorded" />
                  {step.by !== null && <> by {step.by}</>}
                </>
              ) : (
                ': not yet'
              )}
            </li>
          ))}
        </ol>
      </Section>
      <Section id={`${prefix}-parameters`} title="Parameters">
        <Json value={action.parameters} testId="action-parameters" />
      </Section>
      <Section id={`${prefix}-evidence`} title="Evidence from the device">
        {action.evidence === null ? (
          <NotKnown>
            {action.state === 'succeeded'
              ? 'None reported'
              : 'None: the device has not reported a result'}
          </NotKnown>
        ) : (
          <Json value={action.evidence} testId="action-evidence" />
        )}
      </Section>
    </div>
  );
}

interface ActionFlyoutProps {
  actionId: string | null;
  /** Name the device and link to it (the action center); not on the device's own profile. */
  showDevice: boolean;
  onClose: () => void;
  /** Called after the action changed (cancelled), so the list shows it. */
  onChanged: () => void;
}

/**
 * One action: its state, who asked and why, its timeline, parameters and evidence.
 * Limitation: the timeline comes from the action's own times and names; the audit log's
 * entries for it are not shown, since GET /api/audit is for admins and has no target filter.
 */
export function ActionFlyout({ actionId, showDevice, onClose, onChanged }: ActionFlyoutProps) {
  const [result, retry] = useApiQuery(
    (signal) => (actionId === null ? Promise.resolve(null) : getAction(actionId, signal)),
    [actionId],
  );
  const action = result.status === 'ok' ? result.data : null;
  const title =
    action === null
      ? 'Action'
      : `${actionTypeLabel(action.type)}${showDevice ? `: ${action.device_name}` : ''}`;
  return (
    <Flyout open={actionId !== null} title={title} onClose={onClose}>
      {result.status === 'loading' && <LoadingState label="Loading the action…" />}
      {result.status === 'error' && (
        <ErrorState title="Could not load this action" error={result.error} onRetry={retry} />
      )}
      {action !== null && (
        <ActionBody
          action={action}
          showDevice={showDevice}
          onLeave={onClose}
          onChanged={() => {
            retry();
            onChanged();
          }}
        />
      )}
    </Flyout>
  );
}
