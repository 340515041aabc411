import { Body1, Caption1, Title3, makeStyles, tokens } from '@fluentui/react-components';
import { useCallback, useMemo } from 'react';
import { useSearchParams } from 'react-router';

import { listAlerts } from '../../api/client';
import {
  FIRST_PAGE,
  canGoBack,
  nextPage,
  previousPage,
} from '../../components/DataTable/cursorPaging';
import { DataTable } from '../../components/DataTable/DataTable';
import type { UpdateTable } from '../../components/DataTable/useTableState';
import { useApiQuery } from '../../hooks/useApiQuery';
import { useDocumentTitle } from '../../hooks/useDocumentTitle';
import { formatCount } from '../../lib/format';
import { AlertFlyout } from '../DevicePage/AlertFlyout';
import { useAlertColumns } from '../DevicePage/alertColumns';
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

/**
 * Every device's alerts in one queue: filtered, sorted and paged by the server, with the
 * alert flyout for triage. The whole view is in the address, so a link shares it.
 */
export function AlertsPage() {
  useDocumentTitle('Alerts');
  const styles = useStyles();
  const columns = useAlertColumns({ queue: true });
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
