import {
  Badge,
  Body1,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
  Text,
  makeStyles,
  tokens,
} from '@fluentui/react-components';

import { getVulnerabilityCoverage, listMissingUpdates } from '../../api/client';
import type {
  DeviceDetail,
  MissingAdvisory,
  MissingUpdate,
  MissingUpdatesPage,
  MissingUpdatesSort,
} from '../../api/types';
import { DataTable } from '../../components/DataTable/DataTable';
import type { DataColumn } from '../../components/DataTable/DataTable';
import { offsetOf } from '../../components/DataTable/tableState';
import type { TableSpec } from '../../components/DataTable/tableState';
import { useTableState } from '../../components/DataTable/useTableState';
import { ErrorState } from '../../components/ErrorState/ErrorState';
import { LoadingState } from '../../components/LoadingState/LoadingState';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import type { QueryState } from '../../hooks/useApiQuery';
import { useApiQuery } from '../../hooks/useApiQuery';
import { MissingUpdateFlyout } from './MissingUpdateFlyout';
import { advisoriesEmptyText } from './coverageText';
import { updatesSummary } from './missingUpdates';

const useStyles = makeStyles({
  root: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  summary: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalL },
  empty: {
    padding: tokens.spacingVerticalXL,
    border: `${tokens.strokeWidthThin} dashed ${tokens.colorNeutralStroke1}`,
    borderRadius: tokens.borderRadiusMedium,
  },
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200 },
  tags: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalXS },
});

const SORTS: readonly MissingUpdatesSort[] = ['-bulletin', 'bulletin'];

export const UPDATES_TABLE: TableSpec = { sorts: SORTS, defaultSort: '-bulletin', filters: {} };

function useUpdateColumns(): DataColumn<MissingUpdate>[] {
  const styles = useStyles();
  return [
    {
      id: 'bulletin',
      label: 'Bulletin',
      sort: 'bulletin',
      sortDescendingFirst: true,
      width: '110px',
      render: (u) => u.bulletin,
      csv: (u) => u.bulletin,
    },
    {
      id: 'kb',
      label: 'KB number',
      alwaysVisible: true,
      width: '130px',
      render: (u) => <span className={styles.mono}>{u.kb}</span>,
      csv: (u) => u.kb,
    },
    {
      id: 'os_version',
      label: 'OS version',
      render: (u) => u.os_version,
      csv: (u) => u.os_version,
    },
    {
      id: 'cves',
      label: 'CVEs addressed',
      width: '130px',
      render: (u) => u.cve_count,
      csv: (u) => String(u.cve_count),
    },
    {
      id: 'exploited',
      label: 'Exploited',
      width: '100px',
      render: (u) => u.exploited_count,
      csv: (u) => String(u.exploited_count),
    },
    {
      id: 'fixed_build',
      label: 'Fixed build',
      width: '150px',
      defaultVisible: false,
      render: (u) => <span className={styles.mono}>{u.fixed_build}</span>,
      csv: (u) => u.fixed_build,
    },
    {
      id: 'tags',
      label: 'Tags',
      width: '260px',
      render: (u) => (
        <span className={styles.tags}>
          {u.tags.map((tag) => (
            <Badge key={tag} appearance="outline" shape="rounded">
              {tag}
            </Badge>
          ))}
        </span>
      ),
      csv: (u) => u.tags.join('; '),
    },
  ];
}

function useAdvisoryColumns(): DataColumn<MissingAdvisory>[] {
  const styles = useStyles();
  return [
    {
      id: 'advisory',
      label: 'Advisory',
      alwaysVisible: true,
      width: '140px',
      render: (a) => <span className={styles.mono}>{a.advisory}</span>,
      csv: (a) => a.advisory,
    },
    { id: 'package', label: 'Package', render: (a) => a.package, csv: (a) => a.package },
    {
      id: 'installed',
      label: 'Installed version',
      render: (a) => <span className={styles.mono}>{a.installed_version}</span>,
      csv: (a) => a.installed_version,
    },
    {
      id: 'fixed',
      label: 'Fixed version',
      render: (a) =>
        a.fixed_version === null ? (
          <NotKnown>No fix yet</NotKnown>
        ) : (
          <span className={styles.mono}>{a.fixed_version}</span>
        ),
      csv: (a) => a.fixed_version ?? '',
    },
    {
      id: 'cves',
      label: 'CVEs',
      width: '90px',
      render: (a) => a.cve_count,
      csv: (a) => String(a.cve_count),
    },
  ];
}

function advisoriesResult(
  result: QueryState<MissingUpdatesPage>,
): QueryState<{ items: MissingAdvisory[]; total: number }> {
  if (result.status !== 'ok') return result;
  const items = result.data.advisories;
  return { status: 'ok', data: { items, total: items.length } };
}

/** Updates the device lacks: Windows KBs, or its distribution's advisories on Linux. */
export function MissingUpdatesTab({ device }: { device: DeviceDetail }) {
  const styles = useStyles();
  const updateColumns = useUpdateColumns();
  const advisoryColumns = useAdvisoryColumns();
  const [state, update] = useTableState(UPDATES_TABLE);
  const query = {
    sort: state.sort as MissingUpdatesSort,
    limit: state.pageSize,
    offset: offsetOf(state),
  };
  const [result, retry] = useApiQuery(
    (signal) => listMissingUpdates(device.id, query, signal),
    [device.id, JSON.stringify(query)],
  );
  const [coverageResult] = useApiQuery(
    (signal) => getVulnerabilityCoverage(device.id, signal),
    [device.id],
  );
  const coverage = coverageResult.status === 'ok' ? coverageResult.data : null;
  if (result.status === 'loading') return <LoadingState label="Loading missing updates…" />;
  if (result.status === 'error') {
    return (
      <ErrorState title="Could not load missing updates" error={result.error} onRetry={retry} />
    );
  }
  const page = result.data;
  const windows = page.status !== 'not_windows';
  const summary = updatesSummary(page);
  return (
    <div className={styles.root}>
      {page.status === 'unknown' ? (
        <MessageBar intent="warning" data-testid="updates-unknown">
          <MessageBarBody>
            <MessageBarTitle>Missing updates are not known</MessageBarTitle>
            {page.reason}. Hostwatch does not guess: an unknown build is not shown as missing every
            update.
          </MessageBarBody>
        </MessageBar>
      ) : (
        <div className={styles.summary} data-testid="updates-summary">
          <Text weight="semibold">{summary}</Text>
          {page.product !== null && (
            <Body1>
              {page.product}, build <span className={styles.mono}>{page.build}</span>
            </Body1>
          )}
        </div>
      )}
      {windows ? (
        <DataTable
          tableId="device.missing-updates"
          label="Missing updates"
          noun="updates"
          testId="updates-table"
          columns={updateColumns}
          state={state}
          onChange={update}
          result={{ status: 'ok', data: { items: page.items, total: page.total } }}
          onRetry={retry}
          rowKey={(u) => u.id}
          rowLabel={(u) => `Select ${u.kb}`}
          onOpen={(u) => update({ item: u.id })}
          empty={
            <Body1 className={styles.empty} data-testid="updates-empty">
              {page.status === 'assessed'
                ? 'No security update is missing for this build.'
                : 'Missing updates can be told once the build is known.'}
            </Body1>
          }
        />
      ) : (
        <DataTable
          tableId="device.missing-advisories"
          label="Missing distribution advisories"
          noun="advisories"
          testId="advisories-table"
          columns={advisoryColumns}
          state={state}
          onChange={update}
          result={advisoriesResult(result)}
          onRetry={retry}
          rowKey={(a) => a.id}
          rowLabel={(a) => `Select ${a.advisory}`}
          onOpen={(a) => update({ item: a.id })}
          empty={
            <Body1 className={styles.empty} data-testid="advisories-empty">
              {advisoriesEmptyText(coverage)}
            </Body1>
          }
        />
      )}
      <MissingUpdateFlyout page={page} itemId={state.item} onClose={() => update({ item: null })} />
    </div>
  );
}
