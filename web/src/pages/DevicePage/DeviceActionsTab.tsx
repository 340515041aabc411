import { makeStyles, tokens } from '@fluentui/react-components';

import type { DeviceDetail } from '../../api/types';
import { AppLink } from '../../components/AppLink/AppLink';
import { ActionList } from '../ActionsPage/ActionList';

const useStyles = makeStyles({
  root: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS },
});

interface DeviceActionsTabProps {
  device: DeviceDetail;
  onChanged: () => void;
}

/** The device's response actions: the action center narrowed to this device. */
export function DeviceActionsTab({ device, onChanged }: DeviceActionsTabProps) {
  const styles = useStyles();
  return (
    <div className={styles.root}>
      <AppLink to={`/actions?device=${encodeURIComponent(device.id)}`}>
        Open in the action center
      </AppLink>
      <ActionList deviceId={device.id} onChanged={onChanged} />
    </div>
  );
}
