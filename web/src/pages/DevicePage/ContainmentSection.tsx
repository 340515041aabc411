import { Badge, Caption1, makeStyles, tokens } from '@fluentui/react-components';

import type { ContainmentInfo } from '../../api/types';
import { DateTime } from '../../components/DateTime/DateTime';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { PropertyList } from '../../components/PropertyList/PropertyList';
import { actionStateLabel, actionTypeLabel, containmentSummary } from '../../lib/actionLabels';

const useStyles = makeStyles({
  root: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS },
  list: {
    margin: 0,
    paddingLeft: tokens.spacingHorizontalL,
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalXXS,
  },
  problem: { color: tokens.colorPaletteRedForeground1, overflowWrap: 'anywhere' },
  muted: { color: tokens.colorNeutralForeground3 },
});

/**
 * What the agent last read back from the device about its containment (the nftables table,
 * the fanotify mark), and the containment actions on their way. A requested isolation is
 * listed as pending; the device reads "Isolated" only once the agent has verified it.
 */
export function ContainmentSection({ containment }: { containment: ContainmentInfo }) {
  const styles = useStyles();
  const summary = containmentSummary(containment);
  return (
    <div className={styles.root}>
      <PropertyList
        items={[
          {
            label: 'Isolation',
            value: containment.isolated ? (
              <Badge color="danger" appearance="filled">
                {summary.isolation}
              </Badge>
            ) : (
              summary.isolation
            ),
            testId: 'containment-isolation',
          },
          {
            label: 'App execution',
            value: containment.app_restricted ? (
              <Badge color="warning" appearance="filled">
                {summary.restriction}
              </Badge>
            ) : (
              summary.restriction
            ),
            testId: 'containment-restriction',
          },
          {
            label: 'Checked',
            value: <DateTime value={containment.checked_at} relative missing="Not reported yet" />,
            testId: 'containment-checked',
          },
        ]}
      />
      {containment.problems.length > 0 && (
        <div>
          <Caption1 className={styles.muted}>Problems the agent found</Caption1>
          <ul className={styles.list} data-testid="containment-problems">
            {containment.problems.map((problem, index) => (
              <li key={`${index}:${problem}`} className={styles.problem}>
                {problem}
              </li>
            ))}
          </ul>
        </div>
      )}
      <div>
        <Caption1 className={styles.muted}>Actions on their way</Caption1>
        {containment.pending.length === 0 ? (
          <div>
            <NotKnown>None</NotKnown>
          </div>
        ) : (
          <ul className={styles.list} data-testid="containment-pending">
            {containment.pending.map((action) => (
              <li key={action.id} data-state={action.state}>
                {actionTypeLabel(action.type)}: {actionStateLabel(action.state).toLowerCase()}
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}
