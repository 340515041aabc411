import { Body1, Subtitle2, makeStyles, tokens } from '@fluentui/react-components';

const useStyles = makeStyles({
  root: {
    display: 'flex',
    flexDirection: 'column',
    alignItems: 'flex-start',
    gap: tokens.spacingVerticalS,
    padding: tokens.spacingVerticalXL,
    border: `${tokens.strokeWidthThin} dashed ${tokens.colorNeutralStroke1}`,
    borderRadius: tokens.borderRadiusMedium,
  },
  title: { margin: 0 },
  steps: { margin: 0, paddingLeft: tokens.spacingHorizontalXL },
  code: {
    fontFamily: tokens.fontFamilyMonospace,
    backgroundColor: tokens.colorNeutralBackground3,
    padding: `0 ${tokens.spacingHorizontalXS}`,
    borderRadius: tokens.borderRadiusSmall,
  },
});

/** Why the list is empty and what to do about it. */
export function EmptyDevices({ filtered }: { filtered: boolean }) {
  const styles = useStyles();
  if (filtered) {
    return (
      <div className={styles.root} data-testid="devices-empty">
        <Subtitle2 as="h2" className={styles.title}>
          No devices match these filters
        </Subtitle2>
        <Body1>Change the filters above, or clear them.</Body1>
      </div>
    );
  }
  const server = window.location.origin;
  return (
    <div className={styles.root} data-testid="devices-empty">
      <Subtitle2 as="h2" className={styles.title}>
        No devices yet — enroll an agent:
      </Subtitle2>
      <ol className={styles.steps}>
        <li>
          <Body1>
            On the Hostwatch server, create an enrollment token:{' '}
            <code className={styles.code}>hostwatch enroll-token create</code>
          </Body1>
        </li>
        <li>
          <Body1>
            On each device, start the agent with it:{' '}
            <code className={styles.code}>
              hostwatch agent --server {server} --enroll-token TOKEN
            </code>
          </Body1>
        </li>
      </ol>
      <Body1>
        Or import endpoint logs you already have:{' '}
        <code className={styles.code}>hostwatch import evtx PATH</code>
      </Body1>
    </div>
  );
}
