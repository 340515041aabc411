import { Body1, Caption1, makeStyles, tokens } from '@fluentui/react-components';
import { useCallback, useMemo } from 'react';
import { useSearchParams } from 'react-router';

import { getDevice, listActions } from '../../api/client';
import type { ActionItem } from '../../api/types';
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
import { actionStateLabel, actionTypeLabel, pendingText } from '../../lib/actionLabels';
import { formatUtcTime, parseApiTime } from '../../lib/format';
import { ActionFlyout } from './ActionFlyout';
import { ActionListFilters } from './ActionListFilters';
import {
  actionListQuery,
  actionTableView,
  changeActionListState,
  fromTableChange,
  hasActionFilters,
  readActionListState,
  writeActionListState,
} from './actionListState';
import type { ActionListChange, ActionListState } from './actionListState';
import { ActionStateBadge } from './ActionStateBadge';

const useStyles = makeStyles({
  empty: {
    padding: tokens.spacingVerticalXL,
    border: `${tokens.strokeWidthThin} dashed ${tokens.colorNeutralStroke1}`,
    borderRadius: tokens.borderRadiusMedium,
  },
  waiting: { display: 'block', color: tokens.colorNeutralForeground3 },
  comment: {
    display: '-webkit-box',
    WebkitLineClamp: 2,
    WebkitBoxOrient: 'vertical',
    overflow: 'hidden',
  },
});

type UpdateList = (change: ActionListChange, options?: { replace?: boolean }) => void;

/** The list's state, read from and written to the address; each change is a step Back undoes. */
function useActionListState(): [ActionListState, UpdateList] {
  const [params, setParams] = useSearchParams();
  const key = params.toString();
  const state = useMemo(() => readActionListState(new URLSearchParams(key)), [key]);
  const update = useCallback<UpdateList>(
    (change, options) =>
      setParams(
        (current) =>
          writeActionListState(
            changeActionListState(readActionListState(current), change),
            current,
          ),
        { replace: options?.replace ?? false },
      ),
    [setParams],
  );
  return [state, update];
}

function timeText(value: string | null | undefined): string {
  const date = value == null ? null : parseApiTime(value);
  return date === null ? '' : formatUtcTime(date);
}

function useColumns(showDevice: boolean): DataColumn<ActionItem>[] {
  const styles = useStyles();
  const columns: DataColumn<ActionItem>[] = [
    {
      id: 'requested_at',
      label: 'Requested',
      width: '150px',
      alwaysVisible: true,
      sort: 'requested_at',
      sortDescendingFirst: true,
      render: (item) => <DateTime value={item.requested_at} />,
      csv: (item) => timeText(item.requested_at),
    },
    {
      id: 'type',
      label: 'Action',
      width: '190px',
      sort: 'type',
      render: (item) => actionTypeLabel(item.type ?? ''),
      csv: (item) => actionTypeLabel(item.type ?? ''),
    },
  ];
  if (showDevice) {
    columns.push({
      id: 'device',
      label: 'Device',
      width: '180px',
      render: (item) =>
        item.device_id ? (
          <AppLink to={`/devices/${encodeURIComponent(item.device_id)}`} tabIndex={-1}>
            {item.device_name ?? item.device_id}
          </AppLink>
        ) : (
          <NotKnown />
        ),
      csv: (item) => item.device_name ?? '',
    });
  }
  columns.push(
    {
      id: 'state',
      label: 'State',
      width: '260px',
      sort: 'state',
      render: (item) => {
        const waiting = pendingText(item.type ?? '', item.state ?? '');
        return (
          <>
            <ActionStateBadge state={item.state ?? ''} />
            {waiting !== null && (
              <Caption1 className={styles.waiting} data-testid="action-row-waiting">
                {waiting}
              </Caption1>
            )}
          </>
        );
      },
      csv: (item) => actionStateLabel(item.state ?? ''),
    },
    {
      id: 'requested_by',
      label: 'Requested by',
      width: '140px',
      render: (item) => item.requested_by ?? <NotKnown />,
      csv: (item) => item.requested_by ?? '',
    },
    {
      id: 'comment',
      label: 'Comment',
      render: (item) =>
        item.comment ? (
          <span className={styles.comment}>{item.comment}</span>
        ) : (
          <NotKnown>None</NotKnown>
        ),
      csv: (item) => item.comment ?? '',
    },
    {
      id: 'completed_at',
      label: 'Completed',
      width: '150px',
      sort: 'completed_at',
      sortDescendingFirst: true,
      render: (item) => <DateTime value={item.completed_at} missing="Not yet" />,
      csv: (item) => timeText(item.completed_at),
    },
    {
      id: 'expires_at',
      label: 'Expires',
      width: '150px',
      defaultVisible: false,
      sort: 'expires_at',
      render: (item) => <DateTime value={item.expires_at} />,
      csv: (item) => timeText(item.expires_at),
    },
    {
      id: 'message',
      label: 'Message',
      defaultVisible: false,
      render: (item) => item.message ?? <NotKnown>None</NotKnown>,
      csv: (item) => item.message ?? '',
    },
  );
  return columns;
}

interface ActionListProps {
  /** One device's actions (its profile's tab); every device's when not given. */
  deviceId?: string;
  /** Called after an action changed, so the page around the list can show it. */
  onChanged?: () => void;
}

/**
 * Response actions, newest first: filtered, sorted and paged by the server, one open in the
 * flyout. The whole view is in the address, so a link shares it.
 * Limitation: the list does not refresh by itself; the profile asks again every 10 s while
 * its device has actions on their way, the action center only when reloaded or changed.
 */
export function ActionList({ deviceId, onChanged }: ActionListProps) {
  const styles = useStyles();
  const showDevice = deviceId === undefined;
  const columns = useColumns(showDevice);
  const [state, update] = useActionListState();
  const [params] = useSearchParams();
  const key = params.toString();
  // Preset ranges end now: "now" is fixed per address, so a render does not ask again.
  const now = useMemo(() => new Date(), [key]);
  const query = actionListQuery(state, now, deviceId);
  const [result, retry] = useApiQuery(
    (signal) => listActions(query, signal),
    [JSON.stringify(query)],
  );
  const filteredDevice = showDevice && state.device !== '' ? state.device : null;
  const [device] = useApiQuery(
    (signal) =>
      filteredDevice === null ? Promise.resolve(null) : getDevice(filteredDevice, signal),
    [filteredDevice],
  );
  const deviceName = device.status === 'ok' && device.data !== null ? device.data.name : null;

  const onTableChange: UpdateTable = (change, options) => {
    const mapped = fromTableChange(change);
    if (mapped !== null) update(mapped, options);
  };
  const filtered = hasActionFilters(state, !showDevice);

  return (
    <>
      <DataTable
        tableId={showDevice ? 'actions' : 'device.actions'}
        label="Response actions"
        noun="actions"
        testId="actions-table"
        columns={columns}
        state={actionTableView(state)}
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
        rowLabel={(item) => `Select ${actionTypeLabel(item.type ?? '')} ${item.id}`}
        onOpen={(item) => update({ item: item.id })}
        filters={
          <ActionListFilters
            state={state}
            now={now}
            deviceName={deviceName}
            deviceFixed={!showDevice}
            onChange={update}
          />
        }
        empty={
          <Body1 className={styles.empty} data-testid="actions-empty">
            {filtered
              ? 'No actions match these filters.'
              : showDevice
                ? 'No response actions yet: none has been requested on any device.'
                : 'No response actions on this device yet.'}
          </Body1>
        }
      />
      <ActionFlyout
        actionId={state.item}
        showDevice={showDevice}
        onClose={() => update({ item: null })}
        onChanged={() => {
          retry();
          onChanged?.();
        }}
      />
    </>
  );
}
