import { Badge, makeStyles, tokens } from '@fluentui/react-components';

import type { DeviceSource } from '../../api/types';
import { sourceLabel } from '../../lib/labels';

const useStyles = makeStyles({
  root: { display: 'inline-flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalXS },
});

/** Where a device is known from: the agent, imported endpoint logs, the directory. */
export function SourceList({ sources }: { sources: DeviceSource[] | null | undefined }) {
  const styles = useStyles();
  if (sources == null || sources.length === 0) {
    return null;
  }
  return (
    <span className={styles.root}>
      {sources.map((source) => (
        <Badge key={source} appearance="outline" color="informative" shape="rounded">
          {sourceLabel(source)}
        </Badge>
      ))}
    </span>
  );
}
