import {
  Button,
  Caption1,
  makeStyles,
  tokens,
  webDarkTheme,
  webLightTheme,
} from '@fluentui/react-components';
import { useEffect, useMemo, useRef } from 'react';

import type { Histogram } from '../../api/types';
import { formatCount, formatLocalTime } from '../../lib/format';
import { sameRange } from '../DateRangePicker/ranges';
import type { TimeRange } from '../DateRangePicker/ranges';
import { useTheme } from '../ThemeProvider/ThemeProvider';
import type { ThemeName } from '../ThemeProvider/theme';
import { bucketWords, chartOption, shownKinds, windowFromBrush } from './chartOption';
import type { ChartColors } from './chartOption';
import { init } from './echarts';
import type { ECharts } from './echarts';

const CHART_HEIGHT = 220;

const useStyles = makeStyles({
  root: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXS },
  chart: { height: `${CHART_HEIGHT}px`, width: '100%', cursor: 'crosshair' },
  windowLine: {
    display: 'flex',
    flexWrap: 'wrap',
    alignItems: 'center',
    gap: tokens.spacingHorizontalS,
    color: tokens.colorNeutralForeground2,
  },
  hidden: {
    position: 'absolute',
    width: '1px',
    height: '1px',
    margin: '-1px',
    padding: 0,
    overflow: 'hidden',
    clip: 'rect(0 0 0 0)',
    whiteSpace: 'nowrap',
    border: 0,
  },
});

function colorsFor(theme: ThemeName): ChartColors {
  const fluent = theme === 'dark' ? webDarkTheme : webLightTheme;
  return {
    text: fluent.colorNeutralForeground1,
    mutedText: fluent.colorNeutralForeground2,
    line: fluent.colorNeutralStroke1,
    surface: fluent.colorNeutralBackground1,
    brushFill: theme === 'dark' ? 'rgba(119, 185, 255, 0.16)' : 'rgba(15, 108, 189, 0.10)',
    brushBorder: fluent.colorBrandStroke1,
  };
}

function time(ms: number): string {
  return formatLocalTime(new Date(ms));
}

/** The tooltip of one bucket, built as DOM text: kinds come from the server, never HTML. */
function tooltipOf(histogram: Histogram, kinds: readonly string[], index: number): HTMLElement {
  const box = document.createElement('div');
  const bucket = histogram.buckets[index];
  if (bucket === undefined) return box;
  const start = Date.parse(bucket.start);
  const title = document.createElement('div');
  title.style.fontWeight = '600';
  title.textContent = `${time(start)} – ${time(start + histogram.bucket_seconds * 1000)}`;
  box.append(title);
  let total = 0;
  for (const kind of kinds) {
    const count = bucket.counts[kind] ?? 0;
    total += count;
    if (count === 0) continue;
    const line = document.createElement('div');
    line.textContent = `${kind}: ${formatCount(count)}`;
    box.append(line);
  }
  const sum = document.createElement('div');
  sum.textContent = `${formatCount(total)} events`;
  box.append(sum);
  return box;
}

/**
 * Where the chart's range starts and ends on screen, in pixels from the chart's left, kept
 * on the element: the axis is inset from the plot's edges, and browser tests drag the
 * window's edges by them.
 */
function markAxisEnds(chart: ECharts, host: HTMLElement, histogram: Histogram): void {
  const at = (time: string) => chart.convertToPixel({ xAxisIndex: 0 }, Date.parse(time));
  host.dataset['axisLeft'] = String(at(histogram.from));
  host.dataset['axisRight'] = String(at(histogram.to));
}

function firstIndex(params: unknown): number {
  const first: unknown = Array.isArray(params) ? params[0] : params;
  if (first !== null && typeof first === 'object' && 'dataIndex' in first) {
    return Number(first.dataIndex);
  }
  return -1;
}

interface TimelineChartProps {
  /** Counts of the chart's whole range; its from and to are the chart's ends. */
  histogram: Histogram;
  /** Kinds to draw; all when empty. */
  kinds: readonly string[];
  /** The window: the range of the events listed. */
  window: TimeRange;
  onWindowChange: (window: TimeRange, chart: TimeRange) => void;
}

/**
 * Event counts over time, stacked by kind, with a window the analyst draws, drags or resizes
 * with the mouse to choose the events listed. The window's range can also be typed in the
 * range picker; screen readers get the counts as a table.
 *
 * Limitation: the window moves by mouse or touch only; from the keyboard, the range picker's
 * inputs set the same range. Its resize handles are ECharts' own, 6 pixels wide just inside
 * the window's edges.
 */
export function TimelineChart(props: TimelineChartProps) {
  const { histogram, window } = props;
  // The same kinds in a new array (the page read its address again) draw nothing new.
  const kindsKey = props.kinds.join('\n');
  const kinds = useMemo(() => props.kinds, [kindsKey]);
  const styles = useStyles();
  const { theme } = useTheme();
  const element = useRef<HTMLDivElement>(null);
  const chartRef = useRef<ECharts | null>(null);
  // The chart's event handlers are bound once; they read the props of the last render.
  const latest = useRef(props);
  useEffect(() => {
    latest.current = props;
  });

  const chartRange = useMemo(
    () => ({ from: new Date(histogram.from), to: new Date(histogram.to) }),
    [histogram],
  );
  const drawn = useMemo(() => shownKinds(histogram, kinds), [histogram, kinds]);
  const total = drawn.reduce((sum, item) => sum + item.count, 0);

  // One chart per mounted element; it follows the element's size.
  useEffect(() => {
    const host = element.current;
    if (host === null) return;
    const chart = init(host, undefined, { renderer: 'canvas' });
    chartRef.current = chart;
    chart.on('brushEnd', (event: unknown) => {
      const areas = (event as { areas?: { coordRange?: number[] }[] }).areas ?? [];
      const { histogram: counted, window: shown, onWindowChange } = latest.current;
      const range = { from: new Date(counted.from), to: new Date(counted.to) };
      const picked = windowFromBrush(areas[0]?.coordRange ?? [], range);
      if (picked !== null && !sameRange(picked, shown)) onWindowChange(picked, range);
    });
    const resize = new ResizeObserver(() => {
      chart.resize();
      markAxisEnds(chart, host, latest.current.histogram);
    });
    resize.observe(host);
    return () => {
      resize.disconnect();
      chart.dispose();
      chartRef.current = null;
    };
  }, []);

  const kindNames = useMemo(() => drawn.map((item) => item.kind), [drawn]);
  useEffect(() => {
    const chart = chartRef.current;
    if (chart === null) return;
    const option = chartOption(histogram, kinds, colorsFor(theme), (params) =>
      tooltipOf(histogram, kindNames, firstIndex(params)),
    );
    chart.setOption(option, { notMerge: true });
    if (element.current !== null) markAxisEnds(chart, element.current, histogram);
    // The brush draws on a plain drag, without choosing a tool first.
    chart.dispatchAction({
      type: 'takeGlobalCursor',
      key: 'brush',
      brushOption: { brushType: 'lineX', brushMode: 'single' },
    });
  }, [histogram, kinds, kindNames, theme]);

  const fromMs = window.from.getTime();
  const toMs = window.to.getTime();
  useEffect(() => {
    chartRef.current?.dispatchAction({
      type: 'brush',
      areas: [{ brushType: 'lineX', xAxisIndex: 0, coordRange: [fromMs, toMs] }],
    });
  }, [fromMs, toMs, histogram, kinds, theme]);

  const whole = sameRange(window, chartRange);
  const summary =
    `Events per ${bucketWords(histogram.bucket_seconds)} from ${time(chartRange.from.getTime())} ` +
    `to ${time(chartRange.to.getTime())}: ${formatCount(total)} in all. The window lists ` +
    `${whole ? 'the whole range' : `${time(fromMs)} to ${time(toMs)}`}.`;

  return (
    <div className={styles.root}>
      <div
        ref={element}
        className={styles.chart}
        role="img"
        aria-label={summary}
        data-testid="timeline-chart"
        data-window-from={window.from.toISOString()}
        data-window-to={window.to.toISOString()}
      />
      <table className={styles.hidden} data-testid="timeline-chart-totals">
        <caption>
          Events per kind from {time(chartRange.from.getTime())} to {time(chartRange.to.getTime())}
        </caption>
        <thead>
          <tr>
            <th scope="col">Kind</th>
            <th scope="col">Events</th>
          </tr>
        </thead>
        <tbody>
          {drawn.map((item) => (
            <tr key={item.kind}>
              <th scope="row">{item.kind}</th>
              <td>{formatCount(item.count)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className={styles.windowLine}>
        <Caption1 data-testid="timeline-window">
          {whole
            ? 'Drag across the chart to list a shorter window; drag its edges to resize it.'
            : `Listing ${time(fromMs)} to ${time(toMs)}. Drag the window or its edges to change it.`}
        </Caption1>
        {!whole && (
          <Button
            size="small"
            appearance="subtle"
            onClick={() => props.onWindowChange(chartRange, chartRange)}
            data-testid="timeline-window-reset"
          >
            List the whole chart range
          </Button>
        )}
      </div>
    </div>
  );
}
