import { Body1, Caption1, Title3, makeStyles, tokens } from '@fluentui/react-components';
import { useCallback, useMemo } from 'react';
import { useSearchParams } from 'react-router';

import { listAlerts } from '../../api/client';
import type { AlertItem } from '../../api/types';
import { AppLink } from '../../components/AppLink/AppLink';
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
import { alertStatusLabel, classificationLabel } from '../../lib/alertLabels';
import { formatCount, formatUtcTime, parseApiTime } from '../../lib/format';
import { AlertFlyout } from '../DevicePage/AlertFlyout';
import { SeverityBadge } from '../DevicePage/AlertsTab';
import { AlertQueueFilters } from './AlertQueueFilters';
import {
  changeQueueState,
  fromTableChange,
  hasQueueFilters,
  queueQuery,
  queueTableView,
  readQueueState,
  writeQueueState,
} from './alertQueueState';
import type { AlertQueueState, QueueChange } from './alertQueueState';

const useStyles = makeStyles({
  page: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalM,
    padding: `${tokens.spacingVerticalL} ${tokens.spacingHorizontalXL}`,
    minWidth: 0,
  },
  heading: { margin: 0 },
  muted: { color: tokens.colorNeutralForeground3 },
  empty: {
    padding: tokens.spacingVerticalXL,
    border: `${tokens.strokeWidthThin} dashed ${tokens.colorNeutralStroke1}`,
    borderRadius: tokens.borderRadiusMedium,
  },
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200 },
});

type UpdateQueue = (change: QueueChange, options?: { replace?: boolean }) => void;

/** The queue's state, read from and written to the address; each change is a step Back undoes. */
function useQueueState(): [AlertQueueState, UpdateQueue] {
  const [params, setParams] = useSearchParams();
  const key = params.toString();
  const state = useMemo(() => readQueueState(new URLSearchParams(key)), [key]);
  const update = useCallback<UpdateQueue>(
    (change, options) =>
      setParams((current) => writeQueueState(changeQueueState(readQueueState(current), change)), {
        replace: options?.replace ?? false,
      }),
    [setParams],
  );
  return [state, update];
}

function timeText(value: string | null | undefined): string {
  if (value == null) return '';
  const date = parseApiTime(value);
  return date === null ? value : formatUtcTime(date);
}

function useColumns(): DataColumn<AlertItem>[] {
  const styles = useStyles();
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
      id: 'device_name',
      label: 'Device',
      width: '160px',
      render: (item) =>
        item.device_id ? (
          <AppLink to={`/devices/${encodeURIComponent(item.device_id)}`} tabIndex={-1}>
            {item.device_name ?? item.device_id}
          </AppLink>
        ) : null,
      csv: (item) => item.device_name ?? '',
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
      id: 'user',
      label: 'User',
      width: '160px',
      render: (item) => item.user ?? <NotKnown>None</NotKnown>,
      csv: (item) => item.user ?? '',
    },
    {
      id: 'rule_id',
      label: 'Rule',
      width: '180px',
      defaultVisible: false,
      render: (item) => <span className={styles.mono}>{item.rule_id ?? ''}</span>,
      csv: (item) => item.rule_id ?? '',
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
  ];
}

/**
 * Every device's alerts in one queue: filtered, sorted and paged by the server, with the
 * alert flyout for triage. The whole view is in the address, so a link shares it.
 */
export function AlertsPage() {
  useDocumentTitle('Alerts');
  const styles = useStyles();
  const columns = useColumns();
  const [state, update] = useQueueState();
  const [params] = useSearchParams();
  const key = params.toString();
  // Preset ranges end now: "now" is fixed per address, so a render does not ask again.
  const now = useMemo(() => new Date(), [key]);
  const query = queueQuery(state, now);
  const [result, retry] = useApiQuery(
    (signal) => listAlerts(query, signal),
    [JSON.stringify(query)],
  );

  const onTableChange: UpdateTable = (change, options) => {
    const mapped = fromTableChange(change);
    if (mapped !== null) update(mapped, options);
  };
  const filtered = hasQueueFilters(state);
  const total = result.status === 'ok' ? result.data.total : null;

  return (
    <div className={styles.page}>
      <Title3 as="h1" className={styles.heading}>
        Alerts
      </Title3>
      {total !== null && (
        <Caption1 className={styles.muted} data-testid="alerts-total">
          {formatCount(total)} {total === 1 ? 'alert' : 'alerts'}
          {filtered ? ' match these filters' : ' on every device'}
        </Caption1>
      )}
      <DataTable
        tableId="alerts"
        label="Alerts"
        noun="alerts"
        testId="alerts-table"
        columns={columns}
        state={queueTableView(state)}
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
        rowLabel={(item) => `Select ${item.title ?? item.id}`}
        onOpen={(item) => update({ item: item.id })}
        filters={<AlertQueueFilters state={state} now={now} onChange={update} />}
        empty={
          <Body1 className={styles.empty} data-testid="alerts-empty">
            {filtered
              ? 'No alerts match these filters.'
              : 'No alerts yet: no enabled rule has matched an event on any device.'}
          </Body1>
        }
      />
      <AlertFlyout
        alertId={state.item}
        onClose={() => update({ item: null })}
        onChanged={retry}
        showDevice
      />
    </div>
  );
}
