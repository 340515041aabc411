import { Badge, Body1, Field, Select, makeStyles, tokens } from '@fluentui/react-components';
import { useId } from 'react';

import { listDeviceAlerts } from '../../api/client';
import type {
  AlertItem,
  AlertListQuery,
  AlertSeverity,
  AlertSort,
  AlertStatus,
  DeviceDetail,
} from '../../api/types';
import { DataTable } from '../../components/DataTable/DataTable';
import type { DataColumn } from '../../components/DataTable/DataTable';
import { TableSearch } from '../../components/DataTable/TableSearch';
import { hasActiveFilters, offsetOf } from '../../components/DataTable/tableState';
import type { TableSpec } from '../../components/DataTable/tableState';
import { useTableState } from '../../components/DataTable/useTableState';
import { DateTime } from '../../components/DateTime/DateTime';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { useApiQuery } from '../../hooks/useApiQuery';
import {
  ALERT_STATUSES,
  SEVERITIES,
  alertStatusLabel,
  classificationLabel,
  severityColor,
  severityLabel,
} from '../../lib/alertLabels';
import { formatCount, formatUtcTime, parseApiTime } from '../../lib/format';
import { AlertFlyout } from './AlertFlyout';

const useStyles = makeStyles({
  empty: {
    padding: tokens.spacingVerticalXL,
    border: `${tokens.strokeWidthThin} dashed ${tokens.colorNeutralStroke1}`,
    borderRadius: tokens.borderRadiusMedium,
  },
  filter: { minWidth: '150px' },
});

const SORTS: readonly AlertSort[] = [
  '-last_activity',
  'last_activity',
  '-first_activity',
  'first_activity',
  '-severity',
  'severity',
  'title',
  '-title',
  'status',
  '-status',
  '-event_count',
  'event_count',
];

export const ALERTS_TABLE: TableSpec = {
  sorts: SORTS,
  defaultSort: '-last_activity',
  filters: { severity: SEVERITIES, status: ALERT_STATUSES, assignee: null },
};

function timeText(value: string | null | undefined): string {
  if (value == null) return '';
  const date = parseApiTime(value);
  return date === null ? value : formatUtcTime(date);
}

export function SeverityBadge({ severity }: { severity: string }) {
  return (
    <Badge appearance="tint" shape="rounded" color={severityColor(severity)}>
      {severityLabel(severity)}
    </Badge>
  );
}

function useColumns(): DataColumn<AlertItem>[] {
  return [
    {
      id: 'title',
      label: 'Title',
      sort: 'title',
      alwaysVisible: true,
      render: (item) => item.title ?? '',
      csv: (item) => item.title ?? '',
    },
    {
      id: 'severity',
      label: 'Severity',
      sort: 'severity',
      sortDescendingFirst: true,
      width: '130px',
      render: (item) => (item.severity ? <SeverityBadge severity={item.severity} /> : null),
      csv: (item) => item.severity ?? '',
    },
    {
      id: 'status',
      label: 'Status',
      sort: 'status',
      width: '120px',
      render: (item) => (item.status ? alertStatusLabel(item.status) : ''),
      csv: (item) => item.status ?? '',
    },
    {
      id: 'last_activity',
      label: 'Last activity',
      sort: 'last_activity',
      sortDescendingFirst: true,
      width: '150px',
      render: (item) => <DateTime value={item.last_activity ?? null} relative />,
      csv: (item) => timeText(item.last_activity),
    },
    {
      id: 'first_activity',
      label: 'First activity',
      sort: 'first_activity',
      sortDescendingFirst: true,
      width: '150px',
      defaultVisible: false,
      render: (item) => <DateTime value={item.first_activity ?? null} relative />,
      csv: (item) => timeText(item.first_activity),
    },
    {
      id: 'event_count',
      label: 'Events',
      sort: 'event_count',
      sortDescendingFirst: true,
      width: '90px',
      render: (item) => formatCount(item.event_count ?? 0),
      csv: (item) => String(item.event_count ?? ''),
    },
    {
      id: 'assignee',
      label: 'Assigned to',
      width: '140px',
      render: (item) => item.assignee ?? <NotKnown>Unassigned</NotKnown>,
      csv: (item) => item.assignee ?? '',
    },
    {
      id: 'techniques',
      label: 'Techniques',
      width: '150px',
      defaultVisible: false,
      render: (item) => (item.techniques ?? []).join(', '),
      csv: (item) => (item.techniques ?? []).join(' '),
    },
    {
      id: 'classification',
      label: 'Classification',
      width: '160px',
      defaultVisible: false,
      render: (item) =>
        item.classification ? classificationLabel(item.classification) : <NotKnown>None</NotKnown>,
      csv: (item) => item.classification ?? '',
    },
    {
      id: 'user',
      label: 'User',
      width: '160px',
      defaultVisible: false,
      render: (item) => item.user ?? <NotKnown>None</NotKnown>,
      csv: (item) => item.user ?? '',
    },
  ];
}

/** The device's alerts: paged, sorted, filtered; one opens in the flyout. */
export function AlertsTab({ device, onChanged }: { device: DeviceDetail; onChanged: () => void }) {
  const styles = useStyles();
  const severityId = useId();
  const statusId = useId();
  const columns = useColumns();
  const [state, update] = useTableState(ALERTS_TABLE);
  const severity = state.filters['severity'];
  const status = state.filters['status'];
  const assignee = state.filters['assignee'];
  // The table state only holds values of the spec's lists (SEVERITIES, ALERT_STATUSES).
  const query: AlertListQuery = {
    severity: severity ? [severity as AlertSeverity] : null,
    status: status ? [status as AlertStatus] : null,
    assignee: assignee || null,
    sort: state.sort as AlertSort,
    limit: state.pageSize,
    offset: offsetOf(state),
  };
  const [result, retry] = useApiQuery(
    (signal) => listDeviceAlerts(device.id, query, signal),
    [device.id, JSON.stringify(query)],
  );
  const filtered = hasActiveFilters(state);

  return (
    <>
      <DataTable
        tableId="device.alerts"
        label="Alerts"
        noun="alerts"
        testId="alerts-table"
        columns={columns}
        state={state}
        onChange={update}
        result={result}
        onRetry={retry}
        rowKey={(item) => item.id}
        rowLabel={(item) => `Select ${item.title ?? item.id}`}
        onOpen={(item) => update({ item: item.id })}
        filters={
          <>
            <Field label={{ children: 'Severity', htmlFor: severityId }} className={styles.filter}>
              <Select
                id={severityId}
                value={severity ?? ''}
                onChange={(_, data) => update({ filters: { severity: data.value } })}
                data-testid="filter-severity"
              >
                <option value="">All</option>
                {SEVERITIES.map((value) => (
                  <option key={value} value={value}>
                    {severityLabel(value)}
                  </option>
                ))}
              </Select>
            </Field>
            <Field label={{ children: 'Status', htmlFor: statusId }} className={styles.filter}>
              <Select
                id={statusId}
                value={status ?? ''}
                onChange={(_, data) => update({ filters: { status: data.value } })}
                data-testid="filter-status"
              >
                <option value="">All</option>
                {ALERT_STATUSES.map((value) => (
                  <option key={value} value={value}>
                    {alertStatusLabel(value)}
                  </option>
                ))}
              </Select>
            </Field>
            <TableSearch
              label="Assigned to"
              placeholder="User name"
              value={assignee ?? ''}
              onSearch={(value) => update({ filters: { assignee: value } }, { replace: true })}
              testId="filter-assignee"
            />
          </>
        }
        empty={
          <Body1 className={styles.empty} data-testid="alerts-empty">
            {filtered
              ? 'No alerts match these filters.'
              : 'No alerts on this device: no enabled rule has matched its events.'}
          </Body1>
        }
      />
      <AlertFlyout
        alertId={state.item}
        onClose={() => update({ item: null })}
        onChanged={() => {
          retry();
          onChanged();
        }}
      />
    </>
  );
}
