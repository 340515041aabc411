import { Badge, Body1, Field, Select, makeStyles, tokens } from '@fluentui/react-components';
import { useId } from 'react';

import { getVulnerabilityCoverage, listDeviceRecommendations } from '../../api/client';
import type {
  DeviceDetail,
  RecommendationItem,
  RecommendationListQuery,
  RecommendationSort,
  RecommendationStatus,
} from '../../api/types';
import { DataTable } from '../../components/DataTable/DataTable';
import type { DataColumn } from '../../components/DataTable/DataTable';
import { hasActiveFilters, offsetOf } from '../../components/DataTable/tableState';
import type { TableSpec } from '../../components/DataTable/tableState';
import { useTableState } from '../../components/DataTable/useTableState';
import { DateTime } from '../../components/DateTime/DateTime';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { useApiQuery } from '../../hooks/useApiQuery';
import { formatCount } from '../../lib/format';
import { RecommendationFlyout } from './RecommendationFlyout';
import { recommendationsEmptyText } from './coverageText';
import {
  RECOMMENDATION_STATUSES,
  cvssText,
  recommendationStatusLabel,
  reductionText,
  threatText,
} from './recommendationText';

const useStyles = makeStyles({
  empty: {
    padding: tokens.spacingVerticalXL,
    border: `${tokens.strokeWidthThin} dashed ${tokens.colorNeutralStroke1}`,
    borderRadius: tokens.borderRadiusMedium,
  },
  filter: { minWidth: '150px' },
});

const SORTS: readonly RecommendationSort[] = [
  '-exposure_reduction',
  'exposure_reduction',
  '-weakness_count',
  'weakness_count',
  '-highest_cvss',
  'highest_cvss',
  'title',
  '-title',
  'status',
  '-status',
  '-updated_at',
  'updated_at',
];

export const RECOMMENDATIONS_TABLE: TableSpec = {
  sorts: SORTS,
  defaultSort: '-exposure_reduction',
  filters: { status: RECOMMENDATION_STATUSES },
};

export function RecommendationStatusBadge({ status }: { status: string }) {
  const color = status === 'active' ? 'warning' : status === 'resolved' ? 'success' : 'informative';
  return (
    <Badge appearance="tint" shape="rounded" color={color}>
      {recommendationStatusLabel(status)}
    </Badge>
  );
}

function useColumns(): DataColumn<RecommendationItem>[] {
  return [
    {
      id: 'title',
      label: 'Security recommendation',
      sort: 'title',
      alwaysVisible: true,
      render: (item) => item.title ?? '',
      csv: (item) => item.title ?? '',
    },
    {
      id: 'weakness_count',
      label: 'Weaknesses',
      sort: 'weakness_count',
      sortDescendingFirst: true,
      width: '120px',
      render: (item) => formatCount(item.weakness_count ?? 0),
      csv: (item) => String(item.weakness_count ?? ''),
    },
    {
      id: 'threats',
      label: 'Threats',
      width: '170px',
      render: (item) => threatText(item.threats) || <NotKnown>None known</NotKnown>,
      csv: (item) => threatText(item.threats),
    },
    {
      id: 'component',
      label: 'Related component',
      width: '170px',
      render: (item) => item.component ?? '',
      csv: (item) => item.component ?? '',
    },
    {
      id: 'exposure_reduction',
      label: 'Exposure reduction',
      sort: 'exposure_reduction',
      sortDescendingFirst: true,
      width: '150px',
      render: (item) => reductionText(item.exposure_reduction),
      csv: (item) => String(item.exposure_reduction ?? ''),
    },
    {
      id: 'status',
      label: 'Status',
      sort: 'status',
      width: '120px',
      render: (item) => (item.status ? <RecommendationStatusBadge status={item.status} /> : null),
      csv: (item) => item.status ?? '',
    },
    {
      id: 'highest_cvss',
      label: 'Highest CVSS',
      sort: 'highest_cvss',
      sortDescendingFirst: true,
      width: '120px',
      defaultVisible: false,
      render: (item) => cvssText(item.highest_cvss),
      csv: (item) => (item.highest_cvss == null ? '' : String(item.highest_cvss)),
    },
    {
      id: 'installed_versions',
      label: 'Installed',
      width: '130px',
      defaultVisible: false,
      render: (item) => (item.installed_versions ?? []).join(', '),
      csv: (item) => (item.installed_versions ?? []).join(' '),
    },
    {
      id: 'fixed_version',
      label: 'Fixed in',
      width: '130px',
      defaultVisible: false,
      render: (item) => item.fixed_version ?? <NotKnown>No fix available</NotKnown>,
      csv: (item) => item.fixed_version ?? '',
    },
    {
      id: 'updated_at',
      label: 'Updated',
      sort: 'updated_at',
      sortDescendingFirst: true,
      width: '150px',
      defaultVisible: false,
      render: (item) => <DateTime value={item.updated_at ?? null} relative />,
      csv: (item) => item.updated_at ?? '',
    },
  ];
}

/** What to do on the device, one recommendation per vulnerable product; one opens in a flyout. */
export function RecommendationsTab({
  device,
  onChanged,
}: {
  device: DeviceDetail;
  onChanged: () => void;
}) {
  const styles = useStyles();
  const statusId = useId();
  const columns = useColumns();
  const [state, update] = useTableState(RECOMMENDATIONS_TABLE);
  const status = state.filters['status'];
  // The table state only holds values of the spec's list (RECOMMENDATION_STATUSES).
  const query: RecommendationListQuery = {
    status: status ? [status as RecommendationStatus] : null,
    sort: state.sort as RecommendationSort,
    limit: state.pageSize,
    offset: offsetOf(state),
  };
  const [result, retry] = useApiQuery(
    (signal) => listDeviceRecommendations(device.id, query, signal),
    [device.id, JSON.stringify(query)],
  );
  const [coverageResult] = useApiQuery(
    (signal) => getVulnerabilityCoverage(device.id, signal),
    [device.id],
  );
  const coverage = coverageResult.status === 'ok' ? coverageResult.data : null;
  const filtered = hasActiveFilters(state);
  const open = state.item === null ? null : Number(state.item);

  return (
    <>
      <DataTable
        tableId="device.recommendations"
        label="Security recommendations"
        noun="recommendations"
        testId="recommendations-table"
        columns={columns}
        state={state}
        onChange={update}
        result={result}
        onRetry={retry}
        rowKey={(item) => String(item.id)}
        rowLabel={(item) => `Select ${item.title ?? item.id}`}
        onOpen={(item) => update({ item: String(item.id) })}
        filters={
          <Field label={{ children: 'Status', htmlFor: statusId }} className={styles.filter}>
            <Select
              id={statusId}
              value={status ?? ''}
              onChange={(_, data) => update({ filters: { status: data.value } })}
              data-testid="filter-recommendation-status"
            >
              <option value="">All</option>
              {RECOMMENDATION_STATUSES.map((value) => (
                <option key={value} value={value}>
                  {recommendationStatusLabel(value)}
                </option>
              ))}
            </Select>
          </Field>
        }
        empty={
          <Body1 className={styles.empty} data-testid="recommendations-empty">
            {recommendationsEmptyText(coverage, filtered)}
          </Body1>
        }
      />
      <RecommendationFlyout
        recommendationId={open !== null && Number.isSafeInteger(open) ? open : null}
        onClose={() => update({ item: null })}
        onChanged={() => {
          retry();
          onChanged();
        }}
      />
    </>
  );
}
