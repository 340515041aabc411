import { Checkbox, Field, Select, makeStyles, tokens } from '@fluentui/react-components';
import { useId } from 'react';

import type { AlertSeverity, AlertStatus } from '../../api/types';
import { TableSearch } from '../../components/DataTable/TableSearch';
import { DateRangePicker } from '../../components/DateRangePicker/DateRangePicker';
import { ALERT_STATUSES, SEVERITIES, alertStatusLabel, severityLabel } from '../../lib/alertLabels';
import type { ActivityRange, AlertQueueState, QueueChange, QueueFilters } from './alertQueueState';

const useStyles = makeStyles({
  filter: { minWidth: '150px' },
  unassigned: { paddingBottom: tokens.spacingVerticalXXS },
  range: { flexBasis: '100%' },
});

const RANGE_LABELS: Record<Exclude<ActivityRange, ''>, string> = {
  '24h': 'Last 24 hours',
  '7d': 'Last 7 days',
  '30d': 'Last 30 days',
  custom: 'Custom range',
};

const DAY_MS = 24 * 3600 * 1000;

interface AlertQueueFiltersProps {
  state: AlertQueueState;
  /** Where preset ranges end. */
  now: Date;
  onChange: (change: QueueChange, options?: { replace?: boolean }) => void;
}

/** The queue's filters: severity, status, activity range, device, assignee and rule. */
export function AlertQueueFilters({ state, now, onChange }: AlertQueueFiltersProps) {
  const styles = useStyles();
  const ids = { severity: useId(), status: useId(), range: useId() };
  // Typed text replaces the address entry rather than adding one per pause in typing.
  const typed = (filters: QueueFilters) => onChange({ filters }, { replace: true });

  return (
    <>
      <Field label={{ children: 'Severity', htmlFor: ids.severity }} className={styles.filter}>
        <Select
          id={ids.severity}
          value={state.severity}
          onChange={(_, data) =>
            onChange({ filters: { severity: data.value as AlertSeverity | '' } })
          }
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
      <Field label={{ children: 'Status', htmlFor: ids.status }} className={styles.filter}>
        <Select
          id={ids.status}
          value={state.status}
          onChange={(_, data) => onChange({ filters: { status: data.value as AlertStatus | '' } })}
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
      <Field label={{ children: 'Activity', htmlFor: ids.range }} className={styles.filter}>
        <Select
          id={ids.range}
          value={state.range}
          onChange={(_, data) => onChange({ filters: { range: data.value as ActivityRange } })}
          data-testid="filter-range"
        >
          <option value="">Any time</option>
          {Object.entries(RANGE_LABELS).map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </Select>
      </Field>
      <TableSearch
        label="Device"
        placeholder="Device name"
        value={state.device}
        onSearch={(device) => typed({ device })}
        testId="filter-device"
      />
      <TableSearch
        label="Assigned to"
        placeholder="User name"
        value={state.assignee}
        onSearch={(assignee) => typed({ assignee })}
        testId="filter-assignee"
      />
      <Checkbox
        className={styles.unassigned}
        label="Unassigned only"
        checked={state.unassigned}
        onChange={(_, data) => onChange({ filters: { unassigned: data.checked === true } })}
        data-testid="filter-unassigned"
      />
      <TableSearch
        label="Rule"
        placeholder="Rule id"
        value={state.rule}
        onSearch={(rule) => typed({ rule })}
        testId="filter-rule"
      />
      {state.range === 'custom' && (
        <div className={styles.range} data-testid="filter-custom-range">
          <DateRangePicker
            value={{
              from: state.from ?? new Date(now.getTime() - 7 * DAY_MS),
              to: state.to ?? now,
            }}
            presetEnd={now}
            onChange={({ from, to }) => onChange({ filters: { range: 'custom', from, to } })}
          />
        </div>
      )}
    </>
  );
}
