import { Caption1, Title3, makeStyles, tokens } from '@fluentui/react-components';

import { useDocumentTitle } from '../../hooks/useDocumentTitle';
import { ActionList } from './ActionList';

const useStyles = makeStyles({
  page: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalM,
    padding: `${tokens.spacingVerticalL} ${tokens.spacingHorizontalXL}`,
    minWidth: 0,
  },
  heading: { margin: 0 },
  muted: { color: tokens.colorNeutralForeground3 },
});

/** The action center: every device's response actions, in the state their devices report. */
export function ActionsPage() {
  useDocumentTitle('Action center');
  const styles = useStyles();
  return (
    <div className={styles.page}>
      <Title3 as="h1" className={styles.heading}>
        Action center
      </Title3>
      <Caption1 className={styles.muted}>
        An action is done only when its device has reported it done, with evidence read back from
        the device. Actions not yet delivered to their device can be cancelled.
      </Caption1>
      <ActionList />
    </div>
  );
}
