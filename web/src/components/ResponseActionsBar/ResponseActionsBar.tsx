import { Button, Caption1, Tooltip, makeStyles, tokens } from '@fluentui/react-components';
import {
  AppsListRegular,
  HistoryRegular,
  PlugConnectedRegular,
  PlugDisconnectedRegular,
  ShieldDismissRegular,
  ShieldLockRegular,
  TagMultipleRegular,
} from '@fluentui/react-icons';
import { useState } from 'react';
import type { ReactElement } from 'react';
import { useNavigate } from 'react-router';

import type { ActionDetail, DeviceDetail } from '../../api/types';
import { pendingText } from '../../lib/actionLabels';
import { IsolateDialog } from '../ActionDialogs/IsolateDialog';
import { RestrictDialog } from '../ActionDialogs/RestrictDialog';
import { UndoContainmentDialog } from '../ActionDialogs/UndoContainmentDialog';
import { AppLink } from '../AppLink/AppLink';
import { ManageTagsDialog } from '../ManageTagsDialog/ManageTagsDialog';
import { useCurrentUser } from '../SessionProvider/SessionProvider';
import { actionChoices, noActionsReason } from './responseActions';
import type { ActionTarget, ResponseActionId } from './responseActions';

const useStyles = makeStyles({
  root: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalXS,
    padding: `${tokens.spacingVerticalXS} ${tokens.spacingHorizontalS}`,
    backgroundColor: tokens.colorNeutralBackground1,
    border: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}`,
    borderRadius: tokens.borderRadiusMedium,
  },
  row: { display: 'flex', flexWrap: 'wrap', alignItems: 'center', minHeight: '32px' },
  actions: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalXS },
  none: { color: tokens.colorNeutralForeground3, padding: `0 ${tokens.spacingHorizontalS}` },
  pending: {
    margin: 0,
    padding: `0 ${tokens.spacingHorizontalS}`,
    listStyleType: 'none',
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalXXS,
  },
});

const ICONS: Record<ResponseActionId, ReactElement> = {
  'manage-tags': <TagMultipleRegular />,
  isolate: <PlugDisconnectedRegular />,
  'release-isolation': <PlugConnectedRegular />,
  'restrict-app': <ShieldLockRegular />,
  'remove-restriction': <ShieldDismissRegular />,
  'action-center': <HistoryRegular />,
};

export function actionTarget(device: DeviceDetail): ActionTarget {
  return {
    knownFrom: device.known_from,
    hasAgent: device.agent !== null,
    agentRevoked: device.agent?.revoked === true,
    isolated: device.containment.isolated,
    appRestricted: device.containment.app_restricted,
    pendingTypes: device.containment.pending.map((action) => action.type),
  };
}

/** The profile's address of the device's actions, with one open in the flyout. */
export function deviceActionsPath(deviceId: string, actionId?: string): string {
  const params = new URLSearchParams({ tab: 'actions' });
  if (actionId !== undefined) params.set('item', actionId);
  return `/devices/${encodeURIComponent(deviceId)}?${params.toString()}`;
}

interface ResponseActionsBarProps {
  device: DeviceDetail;
  /** Called after an action changed the device, so the page shows it. */
  onChanged: () => void;
}

/**
 * The response actions on a device: those this user's role allows are enabled, the others
 * are disabled with the role they need in their tooltip. Below them, the device's actions on
 * their way, in the state the server says they are in.
 */
export function ResponseActionsBar({ device, onChanged }: ResponseActionsBarProps) {
  const styles = useStyles();
  const user = useCurrentUser();
  const navigate = useNavigate();
  const [open, setOpen] = useState<ResponseActionId | null>(null);
  const target = actionTarget(device);
  const choices = actionChoices(user.role, target);
  const reason = noActionsReason(user.role, target);

  const close = () => setOpen(null);
  const requested = (_action: ActionDetail) => {
    setOpen(null);
    onChanged();
  };
  const choose = (id: ResponseActionId) => {
    if (id === 'action-center') void navigate(deviceActionsPath(device.id));
    else setOpen(id);
  };

  return (
    <div className={styles.root} data-testid="response-actions">
      <div className={styles.row}>
        {reason !== null && <Caption1 className={styles.none}>{reason}</Caption1>}
        {choices.length > 0 && (
          // A plain group, not Fluent's Toolbar: its arrow-key mover adds hidden focusable
          // elements that accessibility checkers flag. Each action is one Tab stop.
          <div role="group" aria-label="Response actions" className={styles.actions}>
            {choices.map(({ action, disabledReason }) => {
              const button = (
                <Button
                  key={action.id}
                  appearance="subtle"
                  icon={ICONS[action.id]}
                  disabledFocusable={disabledReason !== null}
                  onClick={() => choose(action.id)}
                  data-testid={`action-${action.id}`}
                  data-disabled-reason={disabledReason ?? undefined}
                >
                  {action.label}
                </Button>
              );
              return disabledReason === null ? (
                button
              ) : (
                <Tooltip key={action.id} content={disabledReason} relationship="description">
                  {button}
                </Tooltip>
              );
            })}
          </div>
        )}
      </div>
      {device.containment.pending.length > 0 && (
        <ul
          className={styles.pending}
          aria-label="Actions on their way"
          data-testid="pending-actions"
        >
          {device.containment.pending.map((action) => (
            <li key={action.id} data-testid="pending-action" data-state={action.state}>
              <Caption1>
                <AppsListRegular aria-hidden /> {pendingText(action.type, action.state)}{' '}
                <AppLink to={deviceActionsPath(device.id, action.id)}>Details</AppLink>
              </Caption1>
            </li>
          ))}
        </ul>
      )}
      {open === 'manage-tags' && (
        <ManageTagsDialog device={device} onClose={close} onChanged={onChanged} />
      )}
      {open === 'isolate' && (
        <IsolateDialog device={device} onClose={close} onRequested={requested} />
      )}
      {open === 'restrict-app' && (
        <RestrictDialog device={device} onClose={close} onRequested={requested} />
      )}
      {open === 'release-isolation' && (
        <UndoContainmentDialog
          device={device}
          type="release_isolation"
          onClose={close}
          onRequested={requested}
        />
      )}
      {open === 'remove-restriction' && (
        <UndoContainmentDialog
          device={device}
          type="remove_app_restriction"
          onClose={close}
          onRequested={requested}
        />
      )}
    </div>
  );
}
