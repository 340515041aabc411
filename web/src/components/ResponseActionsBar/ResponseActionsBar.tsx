import { Button, Caption1, makeStyles, tokens } from '@fluentui/react-components';
import { TagMultipleRegular } from '@fluentui/react-icons';
import { useState } from 'react';
import type { ReactElement } from 'react';

import type { DeviceDetail } from '../../api/types';
import { ManageTagsDialog } from '../ManageTagsDialog/ManageTagsDialog';
import { useCurrentUser } from '../SessionProvider/SessionProvider';
import { availableActions, noActionsReason } from './responseActions';
import type { ActionTarget, ResponseActionId } from './responseActions';

const useStyles = makeStyles({
  root: {
    display: 'flex',
    alignItems: 'center',
    minHeight: '40px',
    padding: `0 ${tokens.spacingHorizontalS}`,
    backgroundColor: tokens.colorNeutralBackground1,
    border: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}`,
    borderRadius: tokens.borderRadiusMedium,
  },
  actions: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalXS },
  none: { color: tokens.colorNeutralForeground3, padding: `0 ${tokens.spacingHorizontalS}` },
});

const ICONS: Record<ResponseActionId, ReactElement> = {
  'manage-tags': <TagMultipleRegular />,
};

export function actionTarget(device: DeviceDetail): ActionTarget {
  return {
    knownFrom: device.known_from,
    hasAgent: device.agent !== null,
    agentRevoked: device.agent?.revoked === true,
  };
}

interface ResponseActionsBarProps {
  device: DeviceDetail;
  /** Called after an action changed the device, so the page shows it. */
  onChanged: () => void;
}

/** The actions this user's role allows on this device in its state; none that are not built. */
export function ResponseActionsBar({ device, onChanged }: ResponseActionsBarProps) {
  const styles = useStyles();
  const user = useCurrentUser();
  const [open, setOpen] = useState<ResponseActionId | null>(null);
  const target = actionTarget(device);
  const actions = availableActions(user.role, target);
  const reason = noActionsReason(user.role, target);

  return (
    <div className={styles.root} data-testid="response-actions">
      {reason !== null ? (
        <Caption1 className={styles.none}>{reason}</Caption1>
      ) : (
        // A plain group, not Fluent's Toolbar: its arrow-key mover adds hidden focusable
        // elements that accessibility checkers flag. Each action is one Tab stop.
        <div role="group" aria-label="Response actions" className={styles.actions}>
          {actions.map((action) => (
            <Button
              key={action.id}
              appearance="subtle"
              icon={ICONS[action.id]}
              onClick={() => setOpen(action.id)}
              data-testid={`action-${action.id}`}
            >
              {action.label}
            </Button>
          ))}
        </div>
      )}
      {open === 'manage-tags' && (
        <ManageTagsDialog device={device} onClose={() => setOpen(null)} onChanged={onChanged} />
      )}
    </div>
  );
}
