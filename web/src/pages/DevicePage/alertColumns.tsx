// The columns of an alert list, shared by the device's alerts tab and the all-devices queue.
// The queue adds the device and the rule, and shows the user by default.
import { makeStyles, tokens } from '@fluentui/react-components';

import type { AlertItem } from '../../api/types';
import { AppLink } from '../../components/AppLink/AppLink';
import type { DataColumn } from '../../components/DataTable/DataTable';
import { DateTime } from '../../components/DateTime/DateTime';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { alertStatusLabel, classificationLabel } from '../../lib/alertLabels';
import { formatCount, formatUtcTime, parseApiTime } from '../../lib/format';
import { SeverityBadge } from './SeverityBadge';

const useStyles = makeStyles({
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200 },
});

function timeText(value: string | null | undefined): string {
  if (value == null) return '';
  const date = parseApiTime(value);
  return date === null ? value : formatUtcTime(date);
}

export function useAlertColumns({ queue }: { queue: boolean }): DataColumn<AlertItem>[] {
  const styles = useStyles();
  const columns: (DataColumn<AlertItem> | false)[] = [
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
    queue && {
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
      defaultVisible: queue,
      render: (item) => item.user ?? <NotKnown>None</NotKnown>,
      csv: (item) => item.user ?? '',
    },
    queue && {
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
  return columns.filter((column): column is DataColumn<AlertItem> => column !== false);
}
