import { Button, Field, Select, Text, makeStyles, tokens } from '@fluentui/react-components';
import { DismissRegular } from '@fluentui/react-icons';
import { useId } from 'react';

import type { ActionState, ActionType } from '../../api/types';
import { TableSearch } from '../../components/DataTable/TableSearch';
import { DateRangePicker } from '../../components/DateRangePicker/DateRangePicker';
import {
  ACTION_STATES,
  ACTION_TYPES,
  actionStateLabel,
  actionTypeLabel,
} from '../../lib/actionLabels';
import type {
  ActionFilters,
  ActionListChange,
  ActionListState,
  RequestedRange,
} from './actionListState';

const useStyles = makeStyles({
  filter: { minWidth: '160px' },
  range: { flexBasis: '100%' },
  device: {
    display: 'flex',
    alignItems: 'center',
    gap: tokens.spacingHorizontalXS,
    paddingBottom: tokens.spacingVerticalXXS,
  },
});

const RANGE_LABELS: Record<Exclude<RequestedRange, ''>, string> = {
  '24h': 'Last 24 hours',
  '7d': 'Last 7 days',
  '30d': 'Last 30 days',
  custom: 'Custom range',
};

const DAY_MS = 24 * 3600 * 1000;

interface ActionListFiltersProps {
  state: ActionListState;
  now: Date;
  /** The name of the device the list is narrowed to, when it is (the action center). */
  deviceName: string | null;
  /** On a device's profile the device is fixed: no device filter. */
  deviceFixed: boolean;
  onChange: (change: ActionListChange, options?: { replace?: boolean }) => void;
}

/** The action list's filters: state, type, requester, time requested, and the device. */
export function ActionListFilters(props: ActionListFiltersProps) {
  const { state, now, deviceName, deviceFixed, onChange } = props;
  const styles = useStyles();
  const ids = { state: useId(), type: useId(), range: useId() };
  const typed = (filters: ActionFilters) => onChange({ filters }, { replace: true });

  return (
    <>
      <Field label={{ children: 'State', htmlFor: ids.state }} className={styles.filter}>
        <Select
          id={ids.state}
          value={state.state}
          onChange={(_, data) => onChange({ filters: { state: data.value as ActionState | '' } })}
          data-testid="filter-action-state"
        >
          <option value="">All</option>
          {ACTION_STATES.map((value) => (
            <option key={value} value={value}>
              {actionStateLabel(value)}
            </option>
          ))}
        </Select>
      </Field>
      <Field label={{ children: 'Action', htmlFor: ids.type }} className={styles.filter}>
        <Select
          id={ids.type}
          value={state.type}
          onChange={(_, data) => onChange({ filters: { type: data.value as ActionType | '' } })}
          data-testid="filter-action-type"
        >
          <option value="">All</option>
          {ACTION_TYPES.map((value) => (
            <option key={value} value={value}>
              {actionTypeLabel(value)}
            </option>
          ))}
        </Select>
      </Field>
      <Field label={{ children: 'Requested', htmlFor: ids.range }} className={styles.filter}>
        <Select
          id={ids.range}
          value={state.range}
          onChange={(_, data) => onChange({ filters: { range: data.value as RequestedRange } })}
          data-testid="filter-action-range"
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
        label="Requested by"
        placeholder="Exact user name"
        value={state.requester}
        onSearch={(requester) => typed({ requester })}
        testId="filter-requester"
      />
      {/* Limitation: the API filters actions by device id only (no name search as the alert
          queue has), so the device filter is set from a profile's link, not typed here. */}
      {!deviceFixed && state.device !== '' && (
        <span className={styles.device} data-testid="filter-device">
          <Text>Device: {deviceName ?? state.device}</Text>
          <Button
            appearance="subtle"
            size="small"
            icon={<DismissRegular />}
            aria-label="Show every device's actions"
            onClick={() => onChange({ filters: { device: '' } })}
            data-testid="filter-device-clear"
          />
        </span>
      )}
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
