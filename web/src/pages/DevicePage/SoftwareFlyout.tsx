import { Link, Subtitle2, makeStyles, tokens } from '@fluentui/react-components';

import { getSoftware } from '../../api/client';
import type { SoftwareDetail, SoftwareItem } from '../../api/types';
import { DateTime } from '../../components/DateTime/DateTime';
import { ErrorState } from '../../components/ErrorState/ErrorState';
import { Flyout } from '../../components/Flyout/Flyout';
import { LoadingState } from '../../components/LoadingState/LoadingState';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { PropertyList } from '../../components/PropertyList/PropertyList';
import { useApiQuery } from '../../hooks/useApiQuery';
import { formatCount } from '../../lib/format';
import { softwareSourceLabel } from '../../lib/labels';
import { cvssText, findingStatusLabel, matchLabel, vulnSeverityLabel } from '../../lib/vulnLabels';

const useStyles = makeStyles({
  body: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalL },
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200 },
  heading: { margin: 0 },
  list: { margin: 0, paddingLeft: tokens.spacingHorizontalL, overflowWrap: 'anywhere' },
  muted: { color: tokens.colorNeutralForeground3 },
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
          label: 'Product code',
          value:
            item.product_code === null ? (
              <NotKnown>None: no package URL or CPE for this item</NotKnown>
            ) : (
              <span className={styles.mono}>{item.product_code}</span>
            ),
          testId: 'software-product-code',
        },
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
        {
          label: 'Weaknesses',
          value: formatCount(item.weaknesses),
          testId: 'software-weaknesses',
        },
        { label: 'First seen', value: <DateTime value={item.first_seen} /> },
        { label: 'Last seen', value: <DateTime value={item.last_seen} /> },
      ]}
    />
  );
}

function Vulnerabilities({
  detail,
  onOpenFinding,
}: {
  detail: SoftwareDetail;
  onOpenFinding: (findingId: number) => void;
}) {
  const styles = useStyles();
  return (
    <section aria-labelledby="software-cves-heading">
      <Subtitle2 as="h3" id="software-cves-heading" className={styles.heading}>
        Vulnerabilities
      </Subtitle2>
      {detail.vulnerabilities.length === 0 ? (
        <NotKnown>No imported advisory matches this item</NotKnown>
      ) : (
        <ul className={styles.list} data-testid="software-cves">
          {detail.vulnerabilities.map((v) => (
            <li key={v.finding_id}>
              <Link as="button" onClick={() => onOpenFinding(v.finding_id)}>
                {v.cve}
              </Link>{' '}
              {vulnSeverityLabel(v.severity)}
              {v.cvss_score !== null ? `, ${cvssText(v.cvss_score, null)}` : ''}
              {v.exploited ? ', exploited in the wild' : ''}
              <span className={styles.muted}>
                {' '}
                ({matchLabel(v.match).toLowerCase()}, {findingStatusLabel(v.status).toLowerCase()}
                {v.fixed_version ? `, fixed in ${v.fixed_version}` : ''})
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** The item's full record: its details and every vulnerability found in it. */
function LoadedSoftware({
  deviceId,
  itemId,
  onOpenFinding,
}: {
  deviceId: string;
  itemId: string;
  onOpenFinding: (findingId: number) => void;
}) {
  const styles = useStyles();
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
  return (
    <div className={styles.body}>
      <SoftwareDetails item={result.data} />
      <Vulnerabilities detail={result.data} onOpenFinding={onOpenFinding} />
    </div>
  );
}

interface SoftwareFlyoutProps {
  deviceId: string;
  itemId: string | null;
  rows: SoftwareItem[];
  onClose: () => void;
  /** Opens one of the item's findings in the discovered vulnerabilities tab. */
  onOpenFinding: (findingId: number) => void;
}

export function SoftwareFlyout({
  deviceId,
  itemId,
  rows,
  onClose,
  onOpenFinding,
}: SoftwareFlyoutProps) {
  const shown = itemId === null ? undefined : rows.find((row) => String(row.id) === itemId);
  return (
    <Flyout open={itemId !== null} title={shown?.name ?? 'Software item'} onClose={onClose}>
      {itemId !== null && (
        <LoadedSoftware deviceId={deviceId} itemId={itemId} onOpenFinding={onOpenFinding} />
      )}
    </Flyout>
  );
}
