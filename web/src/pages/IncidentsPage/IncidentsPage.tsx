import { Body1, Field, Select, Title3, makeStyles, tokens } from '@fluentui/react-components';
import { useCallback, useId, useMemo } from 'react';
import { useSearchParams } from 'react-router';

import { listIncidents } from '../../api/client';
import type { AlertSeverity, IncidentItem, IncidentStatus } from '../../api/types';
import {
  FIRST_PAGE,
  canGoBack,
  nextPage,
  previousPage,
} from '../../components/DataTable/cursorPaging';
import { DataTable } from '../../components/DataTable/DataTable';
import type { DataColumn } from '../../components/DataTable/DataTable';
import type { UpdateTable } from '../../components/DataTable/useTableState';
import { DateTime } from '../../components/DateTime/DateTime';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { useApiQuery } from '../../hooks/useApiQuery';
import { useDocumentTitle } from '../../hooks/useDocumentTitle';
import { SEVERITIES, severityLabel } from '../../lib/alertLabels';
import { formatCount, formatUtcTime, parseApiTime } from '../../lib/format';
import { SeverityBadge } from '../DevicePage/SeverityBadge';
import { IncidentFlyout } from './IncidentFlyout';
import {
  INCIDENT_SORT,
  INCIDENT_STATUSES,
  changeIncidentsState,
  fromTableChange,
  incidentStatusLabel,
  incidentsQuery,
  readIncidentsState,
  writeIncidentsState,
} from './incidentsState';
import type { IncidentsChange, IncidentsState } from './incidentsState';

const useStyles = makeStyles({
  page: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalM,
    padding: `${tokens.spacingVerticalL} ${tokens.spacingHorizontalXL}`,
    minWidth: 0,
  },
  heading: { margin: 0 },
  filter: { minWidth: '150px' },
  empty: {
    padding: tokens.spacingVerticalXL,
    border: `${tokens.strokeWidthThin} dashed ${tokens.colorNeutralStroke1}`,
    borderRadius: tokens.borderRadiusMedium,
  },
});

type UpdateIncidents = (change: IncidentsChange, options?: { replace?: boolean }) => void;

function useIncidentsState(): [IncidentsState, UpdateIncidents] {
  const [params, setParams] = useSearchParams();
  const key = params.toString();
  const state = useMemo(() => readIncidentsState(new URLSearchParams(key)), [key]);
  const update = useCallback<UpdateIncidents>(
    (change, options) =>
      setParams(
        (current) => writeIncidentsState(changeIncidentsState(readIncidentsState(current), change)),
        { replace: options?.replace ?? false },
      ),
    [setParams],
  );
  return [state, update];
}

function timeText(value: string): string {
  const date = parseApiTime(value);
  return date === null ? value : formatUtcTime(date);
}

function listText(values: string[], none: string) {
  return values.length === 0 ? <NotKnown>{none}</NotKnown> : values.join(', ');
}

const COLUMNS: DataColumn<IncidentItem>[] = [
  {
    id: 'title',
    label: 'Incident',
    alwaysVisible: true,
    render: (item) => item.title,
    csv: (item) => item.title,
  },
  {
    id: 'severity',
    label: 'Severity',
    width: '130px',
    render: (item) => <SeverityBadge severity={item.severity} />,
    csv: (item) => item.severity,
  },
  {
    id: 'status',
    label: 'Status',
    width: '120px',
    render: (item) => incidentStatusLabel(item.status),
    csv: (item) => item.status,
  },
  {
    id: 'devices',
    label: 'Devices',
    width: '180px',
    render: (item) => listText(item.devices, 'None'),
    csv: (item) => item.devices.join('; '),
  },
  {
    id: 'users',
    label: 'Users',
    width: '180px',
    render: (item) => listText(item.users, 'None'),
    csv: (item) => item.users.join('; '),
  },
  {
    id: 'alerts',
    label: 'Alerts',
    width: '110px',
    render: (item) => `${formatCount(item.active_alerts)} of ${formatCount(item.alert_count)}`,
    csv: (item) => String(item.alert_count),
  },
  {
    id: 'first_activity',
    label: 'First activity',
    width: '150px',
    render: (item) => <DateTime value={item.first_activity} relative />,
    csv: (item) => timeText(item.first_activity),
  },
  {
    id: 'last_activity',
    label: 'Last activity',
    width: '150px',
    render: (item) => <DateTime value={item.last_activity} relative />,
    csv: (item) => timeText(item.last_activity),
  },
];

/** Alerts correlated into incidents, newest activity first, with a flyout per incident. */
export function IncidentsPage() {
  useDocumentTitle('Incidents');
  const styles = useStyles();
  const ids = { status: useId(), severity: useId() };
  const [state, update] = useIncidentsState();
  const query = incidentsQuery(state);
  const [result, retry] = useApiQuery(
    (signal) => listIncidents(query, signal),
    [JSON.stringify(query)],
  );
  const onTableChange: UpdateTable = (change, options) => {
    const mapped = fromTableChange(change);
    if (mapped !== null) update(mapped, options);
  };
  const filtered = state.status !== '' || state.severity !== '';

  return (
    <div className={styles.page}>
      <Title3 as="h1" className={styles.heading}>
        Incidents
      </Title3>
      <DataTable
        tableId="incidents"
        label="Incidents"
        noun="incidents"
        testId="incidents-table"
        columns={COLUMNS}
        state={{ page: state.trail.page, pageSize: state.pageSize, sort: INCIDENT_SORT }}
        onChange={onTableChange}
        result={result}
        onRetry={retry}
        cursor={{
          canGoBack: canGoBack(state.trail),
          onFirst: () => update({ trail: FIRST_PAGE }),
          onPrevious: () => update({ trail: previousPage(state.trail) }),
          onNext: (cursor) => update({ trail: nextPage(state.trail, cursor) }),
        }}
        rowKey={(item) => item.id}
        rowLabel={(item) => `Select ${item.title}`}
        onOpen={(item) => update({ item: item.id })}
        filters={
          <>
            <Field label={{ children: 'Status', htmlFor: ids.status }} className={styles.filter}>
              <Select
                id={ids.status}
                value={state.status}
                onChange={(_, data) =>
                  update({ filters: { status: data.value as IncidentStatus | '' } })
                }
                data-testid="incident-filter-status"
              >
                <option value="">All</option>
                {INCIDENT_STATUSES.map((value) => (
                  <option key={value} value={value}>
                    {incidentStatusLabel(value)}
                  </option>
                ))}
              </Select>
            </Field>
            <Field
              label={{ children: 'Severity', htmlFor: ids.severity }}
              className={styles.filter}
            >
              <Select
                id={ids.severity}
                value={state.severity}
                onChange={(_, data) =>
                  update({ filters: { severity: data.value as AlertSeverity | '' } })
                }
                data-testid="incident-filter-severity"
              >
                <option value="">All</option>
                {SEVERITIES.map((value) => (
                  <option key={value} value={value}>
                    {severityLabel(value)}
                  </option>
                ))}
              </Select>
            </Field>
          </>
        }
        empty={
          <Body1 className={styles.empty} data-testid="incidents-empty">
            {filtered
              ? 'No incidents match these filters.'
              : 'No incidents yet: every alert opens or joins one.'}
          </Body1>
        }
      />
      <IncidentFlyout
        incidentId={state.item}
        onClose={() => update({ item: null })}
        onChanged={retry}
      />
    </div>
  );
}
