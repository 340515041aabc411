import {
  Body1,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { Suspense, lazy, useCallback, useEffect, useMemo, useState } from 'react';
import { useSearchParams } from 'react-router';

import { ApiError, getTimeline, getTimelineHistogram } from '../../api/client';
import type { DeviceDetail } from '../../api/types';
import {
  FIRST_PAGE,
  canGoBack,
  nextPage,
  previousPage,
} from '../../components/DataTable/cursorPaging';
import { DataTable } from '../../components/DataTable/DataTable';
import { TableSearch } from '../../components/DataTable/TableSearch';
import type { UpdateTable } from '../../components/DataTable/useTableState';
import { DateRangePicker } from '../../components/DateRangePicker/DateRangePicker';
import { presetRange, rangeEnd } from '../../components/DateRangePicker/ranges';
import type { TimeRange } from '../../components/DateRangePicker/ranges';
import { ErrorState } from '../../components/ErrorState/ErrorState';
import { LoadingState } from '../../components/LoadingState/LoadingState';
import { useApiQuery } from '../../hooks/useApiQuery';
import { parseApiTime } from '../../lib/format';
import { useTimelineColumns } from './timelineColumns';
import { TimelineExport } from './TimelineExport';
import { TimelineFlyout } from './TimelineFlyout';
import { TimelineKindFilter } from './TimelineKindFilter';
import {
  changeTimelineState,
  exportQuery,
  fromTableChange,
  histogramQuery,
  listQuery,
  readTimelineState,
  tableView,
  writeTimelineState,
} from './timelineState';
import type { TimelineChange, TimelineState } from './timelineState';

// ECharts is large: it loads with the timeline tab, not with the app.
const TimelineChart = lazy(() =>
  import('../../components/TimelineChart/TimelineChart').then((module) => ({
    default: module.TimelineChart,
  })),
);

const useStyles = makeStyles({
  root: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  card: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalS,
    padding: tokens.spacingHorizontalM,
    backgroundColor: tokens.colorNeutralBackground1,
    borderRadius: tokens.borderRadiusMedium,
    border: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}`,
  },
  chartSpace: { minHeight: '250px' },
  empty: {
    padding: tokens.spacingVerticalXL,
    border: `${tokens.strokeWidthThin} dashed ${tokens.colorNeutralStroke1}`,
    borderRadius: tokens.borderRadiusMedium,
  },
});

type UpdateTimeline = (change: TimelineChange, options?: { replace?: boolean }) => void;

/** The timeline's state, read from and written to the address; each change is a step Back undoes. */
function useTimelineState(): [TimelineState, UpdateTimeline] {
  const [params, setParams] = useSearchParams();
  const key = params.toString();
  const state = useMemo(() => readTimelineState(new URLSearchParams(key)), [key]);
  const update = useCallback<UpdateTimeline>(
    (change, options) =>
      setParams(
        (current) =>
          writeTimelineState(changeTimelineState(readTimelineState(current), change), current),
        { replace: options?.replace ?? false },
      ),
    [setParams],
  );
  return [state, update];
}

interface TimelineViewProps {
  device: DeviceDetail;
  state: TimelineState;
  range: TimeRange;
  presetEnd: Date;
  update: UpdateTimeline;
}

function TimelineView({ device, state, range, presetEnd, update }: TimelineViewProps) {
  const styles = useStyles();
  const columns = useTimelineColumns();
  const [exportError, setExportError] = useState<Error | null>(null);

  const chartQuery = histogramQuery(state);
  const [histogram, retryHistogram] = useApiQuery(
    (signal) => getTimelineHistogram(device.id, chartQuery, signal),
    [device.id, JSON.stringify(chartQuery)],
  );
  const query = listQuery(state);
  const [list, retryList] = useApiQuery(
    (signal) => getTimeline(device.id, query, signal),
    [device.id, JSON.stringify(query)],
  );

  const onTableChange: UpdateTable = (change, options) => {
    const mapped = fromTableChange(change);
    if (mapped !== null) update(mapped, options);
  };
  const filtered = state.kinds.length > 0 || state.q !== '';

  return (
    <div className={styles.root}>
      <div className={styles.card}>
        <DateRangePicker
          value={range}
          presetEnd={presetEnd}
          onChange={(picked) => update({ range: picked })}
        />
        <div className={styles.chartSpace}>
          {histogram.status === 'loading' && <LoadingState label="Counting events…" />}
          {histogram.status === 'error' && (
            <ErrorState
              title="Could not draw the chart"
              error={histogram.error}
              onRetry={retryHistogram}
            />
          )}
          {histogram.status === 'ok' && (
            <Suspense fallback={<LoadingState label="Loading the chart…" />}>
              <TimelineChart
                histogram={histogram.data}
                kinds={state.kinds}
                window={range}
                onWindowChange={(window, chart) => update({ window, chart })}
              />
            </Suspense>
          )}
        </div>
      </div>
      {exportError !== null && (
        <MessageBar intent="error" layout="multiline" data-testid="timeline-export-error">
          <MessageBarBody>
            <MessageBarTitle>The export was refused</MessageBarTitle>
            {exportError.message}
            {exportError instanceof ApiError && exportError.problem.hint !== undefined
              ? ` ${exportError.problem.hint}`
              : null}
          </MessageBarBody>
        </MessageBar>
      )}
      <DataTable
        tableId="device.timeline"
        label="Timeline"
        noun="events"
        testId="timeline-table"
        columns={columns}
        state={tableView(state)}
        onChange={onTableChange}
        result={list}
        onRetry={retryList}
        cursor={{
          canGoBack: canGoBack(state.trail),
          onFirst: () => update({ trail: FIRST_PAGE }),
          onPrevious: () => update({ trail: previousPage(state.trail) }),
          onNext: (cursor) => update({ trail: nextPage(state.trail, cursor) }),
        }}
        rowKey={(item) => String(item.id)}
        rowLabel={(item) => `Select the event at ${item.time ?? ''}`}
        onOpen={(item) => update({ item: String(item.id) })}
        rowsCsv={false}
        tools={
          <TimelineExport
            deviceId={device.id}
            range={range}
            query={exportQuery(state)}
            onError={setExportError}
          />
        }
        filters={
          <>
            <TableSearch
              label="Search"
              placeholder="Command line, image, target or user"
              value={state.q}
              onSearch={(q) => update({ q }, { replace: true })}
              testId="timeline-search"
            />
            <TimelineKindFilter
              totals={histogram.status === 'ok' ? histogram.data.totals : null}
              selected={state.kinds}
              onChange={(kinds) => update({ kinds })}
            />
          </>
        }
        empty={
          <Body1 className={styles.empty} data-testid="timeline-empty">
            {filtered
              ? 'No events in this range match these filters.'
              : 'No events in this range. Pick a longer range, or drag the window wider.'}
          </Body1>
        }
      />
      <TimelineFlyout
        deviceId={device.id}
        eventId={state.item}
        onClose={() => update({ item: null })}
      />
    </div>
  );
}

/**
 * What happened on the device: event counts over time with a window that picks the events
 * listed, a range picker, kind and text filters, an export of the range, and a flyout with
 * an event's process tree and original fields. Everything it shows is in the address.
 */
export function TimelineTab({ device }: { device: DeviceDetail }) {
  const [state, update] = useTimelineState();
  // The newest event anchors the presets; without a range the tab shows its last 7 days.
  const [newest, retry] = useApiQuery(
    (signal) => getTimeline(device.id, { limit: 1, fields: ['time'] }, signal),
    [device.id],
  );
  let presetEnd: Date | null = null;
  if (newest.status === 'ok') {
    const time = newest.data.items[0]?.time;
    const last = time == null ? null : parseApiTime(time);
    presetEnd = rangeEnd(last, parseApiTime(newest.data.to) ?? new Date());
  }
  const endMs = presetEnd?.getTime() ?? null;
  const needsRange = state.range === null;

  useEffect(() => {
    if (needsRange && endMs !== null) {
      update({ range: presetRange('7d', new Date(endMs)) }, { replace: true });
    }
  }, [needsRange, endMs, update]);

  if (newest.status === 'error') {
    return <ErrorState title="Could not load the timeline" error={newest.error} onRetry={retry} />;
  }
  if (presetEnd === null || state.range === null) {
    return <LoadingState label="Loading the timeline…" />;
  }
  return (
    <TimelineView
      device={device}
      state={state}
      range={state.range}
      presetEnd={presetEnd}
      update={update}
    />
  );
}
