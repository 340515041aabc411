// What the timeline chart draws, from the histogram the server counted: one stacked bar per
// bucket and kind, the kinds chosen only, and a window (a brush over the time axis) that
// the analyst drags and resizes to pick the events listed below. Pure, so it is tested.

import type { BarSeriesOption } from 'echarts/charts';
import type {
  BrushComponentOption,
  GridComponentOption,
  LegendComponentOption,
  TooltipComponentOption,
} from 'echarts/components';
import type { ComposeOption } from 'echarts/core';

import type { Histogram } from '../../api/types';
import type { TimeRange } from '../DateRangePicker/ranges';
import { kindColor } from './kindColors';

export type ChartOption = ComposeOption<
  | BarSeriesOption
  | BrushComponentOption
  | GridComponentOption
  | LegendComponentOption
  | TooltipComponentOption
>;

/** The theme's colours the chart needs, as plain values (a canvas cannot read CSS). */
export interface ChartColors {
  text: string;
  mutedText: string;
  line: string;
  surface: string;
  brushFill: string;
  brushBorder: string;
}

export interface KindTotal {
  kind: string;
  count: number;
}

/** Pixels around the plot; the browser tests find the plot's edges from them. */
export const GRID = { left: 56, right: 24, top: 44, bottom: 36 } as const;

/** The kinds to draw: those chosen (all when none is), most events first. */
export function shownKinds(histogram: Histogram, chosen: readonly string[]): KindTotal[] {
  const totals = Object.entries(histogram.totals)
    .filter(([kind]) => chosen.length === 0 || chosen.includes(kind))
    .map(([kind, count]) => ({ kind, count }));
  return totals.sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind));
}

/** A bucket's bar stands at its middle, so it spans the bucket's own time. */
function bucketMiddles(histogram: Histogram): number[] {
  const half = (histogram.bucket_seconds * 1000) / 2;
  return histogram.buckets.map((bucket) => Date.parse(bucket.start) + half);
}

export function chartOption(
  histogram: Histogram,
  chosen: readonly string[],
  colors: ChartColors,
  tooltip: NonNullable<TooltipComponentOption['formatter']>,
): ChartOption {
  const kinds = shownKinds(histogram, chosen);
  const middles = bucketMiddles(histogram);
  const series: BarSeriesOption[] = kinds.map(({ kind }) => ({
    type: 'bar',
    name: kind,
    stack: 'events',
    color: kindColor(kind),
    barCategoryGap: '10%',
    emphasis: { focus: 'series' },
    data: histogram.buckets.map((bucket, i) => [middles[i] ?? 0, bucket.counts[kind] ?? 0]),
  }));
  return {
    animation: false,
    grid: { ...GRID },
    legend: {
      type: 'scroll',
      top: 8,
      left: GRID.left,
      right: GRID.right,
      selectedMode: false,
      textStyle: { color: colors.text },
      pageTextStyle: { color: colors.text },
      data: kinds.map(({ kind }) => kind),
    },
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: 'shadow' },
      backgroundColor: colors.surface,
      borderColor: colors.line,
      textStyle: { color: colors.text },
      formatter: tooltip,
    },
    xAxis: {
      type: 'time',
      min: Date.parse(histogram.from),
      max: Date.parse(histogram.to),
      axisLine: { lineStyle: { color: colors.line } },
      axisLabel: { color: colors.mutedText, hideOverlap: true },
      splitLine: { show: false },
    },
    yAxis: {
      type: 'value',
      minInterval: 1,
      axisLabel: { color: colors.mutedText },
      splitLine: { lineStyle: { color: colors.line, opacity: 0.5 } },
    },
    brush: {
      xAxisIndex: 0,
      brushType: 'lineX',
      brushMode: 'single',
      transformable: true,
      removeOnClick: false,
      brushStyle: { color: colors.brushFill, borderColor: colors.brushBorder, borderWidth: 2 },
      outOfBrush: { colorAlpha: 0.3 },
      throttleType: 'debounce',
      throttleDelay: 100,
    },
    series,
  };
}

/**
 * The window the analyst left the brush at, in whole seconds and inside the chart's range;
 * null when it is too small to list anything.
 */
export function windowFromBrush(coordRange: readonly number[], chart: TimeRange): TimeRange | null {
  const [start, end] = coordRange;
  if (start === undefined || end === undefined || !Number.isFinite(start + end)) return null;
  const low = Math.max(Math.min(start, end), chart.from.getTime());
  const high = Math.min(Math.max(start, end), chart.to.getTime());
  // Whole seconds, widened outwards, but never past the chart's own ends.
  const from = Math.max(Math.floor(low / 1000) * 1000, chart.from.getTime());
  const to = Math.min(Math.ceil(high / 1000) * 1000, chart.to.getTime());
  return to - from >= 1000 ? { from: new Date(from), to: new Date(to) } : null;
}

/** "1 hour", "15 minutes": a bucket's size in words, for the summary. */
export function bucketWords(seconds: number): string {
  const units: [number, string][] = [
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, unit] of units) {
    if (seconds % size === 0) {
      const n = seconds / size;
      return n === 1 ? `1 ${unit}` : `${n} ${unit}s`;
    }
  }
  return `${seconds} seconds`;
}
