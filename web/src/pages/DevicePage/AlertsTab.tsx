import { Body1, Field, Select, makeStyles, tokens } from '@fluentui/react-components';
import { useId } from 'react';

import { listDeviceAlerts } from '../../api/client';
import type {
  AlertListQuery,
  AlertSeverity,
  AlertSort,
  AlertStatus,
  DeviceDetail,
} from '../../api/types';
import { DataTable } from '../../components/DataTable/DataTable';
import { TableSearch } from '../../components/DataTable/TableSearch';
import { hasActiveFilters, offsetOf } from '../../components/DataTable/tableState';
import type { TableSpec } from '../../components/DataTable/tableState';
import { useTableState } from '../../components/DataTable/useTableState';
import { useApiQuery } from '../../hooks/useApiQuery';
import { ALERT_STATUSES, SEVERITIES, alertStatusLabel, severityLabel } from '../../lib/alertLabels';
import { AlertFlyout } from './AlertFlyout';
import { useAlertColumns } from './alertColumns';

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

/** The device's alerts: paged, sorted, filtered; one opens in the flyout. */
export function AlertsTab({ device, onChanged }: { device: DeviceDetail; onChanged: () => void }) {
  const styles = useStyles();
  const severityId = useId();
  const statusId = useId();
  const columns = useAlertColumns({ queue: false });
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
