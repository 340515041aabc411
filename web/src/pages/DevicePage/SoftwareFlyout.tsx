import { makeStyles, tokens } from '@fluentui/react-components';

import { getSoftware } from '../../api/client';
import type { SoftwareItem } from '../../api/types';
import { DateTime } from '../../components/DateTime/DateTime';
import { ErrorState } from '../../components/ErrorState/ErrorState';
import { Flyout } from '../../components/Flyout/Flyout';
import { LoadingState } from '../../components/LoadingState/LoadingState';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { PropertyList } from '../../components/PropertyList/PropertyList';
import { useApiQuery } from '../../hooks/useApiQuery';
import { softwareSourceLabel } from '../../lib/labels';

const useStyles = makeStyles({
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200 },
});

function known(value: string | null) {
  return value ?? <NotKnown>Not reported</NotKnown>;
}

function SoftwareDetails({ item }: { item: SoftwareItem }) {
  const styles = useStyles();
  return (
    <PropertyList
      items={[
        { label: 'Name', value: item.name, testId: 'software-name' },
        { label: 'Vendor', value: known(item.vendor) },
        { label: 'Version', value: known(item.version) },
        { label: 'Architecture', value: known(item.arch) },
        { label: 'Source', value: softwareSourceLabel(item.source) },
        { label: 'Source package', value: known(item.source_package) },
        {
          label: 'Install path',
          value:
            item.install_path === null ? (
              <NotKnown>Not reported by the package manager</NotKnown>
            ) : (
              <span className={styles.mono}>{item.install_path}</span>
            ),
          testId: 'software-path',
        },
        { label: 'Status', value: known(item.status) },
        { label: 'First seen', value: <DateTime value={item.first_seen} /> },
        { label: 'Last seen', value: <DateTime value={item.last_seen} /> },
      ]}
    />
  );
}

/** Loads an item that is not on the page shown (the link named it). */
function LinkedSoftware({ deviceId, itemId }: { deviceId: string; itemId: string }) {
  const [result, retry] = useApiQuery(
    (signal) => getSoftware(deviceId, itemId, signal),
    [deviceId, itemId],
  );
  if (result.status === 'loading') return <LoadingState label="Loading the software item…" />;
  if (result.status === 'error') {
    return (
      <ErrorState title="Could not load this software item" error={result.error} onRetry={retry} />
    );
  }
  return <SoftwareDetails item={result.data} />;
}

interface SoftwareFlyoutProps {
  deviceId: string;
  itemId: string | null;
  rows: SoftwareItem[];
  onClose: () => void;
}

export function SoftwareFlyout({ deviceId, itemId, rows, onClose }: SoftwareFlyoutProps) {
  const shown = itemId === null ? undefined : rows.find((row) => String(row.id) === itemId);
  return (
    <Flyout open={itemId !== null} title={shown?.name ?? 'Software item'} onClose={onClose}>
      {shown !== undefined && <SoftwareDetails item={shown} />}
      {shown === undefined && itemId !== null && (
        <LinkedSoftware deviceId={deviceId} itemId={itemId} />
      )}
    </Flyout>
  );
}
