// The timeline tab's view lives in the address: the range of the list (the chart's window),
// the chart's whole range when the window was narrowed inside it, the kinds, the search,
// the order, the page and the event open in the flyout. A copied link shows the same events
// and Back undoes a step. Values the server would refuse fall back to the defaults.

import type { TimelineExportQuery, TimelineOrder, TimelineQuery } from '../../api/types';
import {
  FIRST_PAGE,
  currentCursor,
  readCursorTrail,
  writeCursorTrail,
} from '../../components/DataTable/cursorPaging';
import type { CursorTrail } from '../../components/DataTable/cursorPaging';
import type { TableView } from '../../components/DataTable/DataTable';
import { DEFAULT_PAGE_SIZE, PAGE_SIZES } from '../../components/DataTable/tableState';
import type { TableChange } from '../../components/DataTable/tableState';
import { readTime, writeTime } from '../../components/DateRangePicker/ranges';
import type { TimeRange } from '../../components/DateRangePicker/ranges';

/** As many kinds as the API takes in one filter, each as long as it allows. */
export const MAX_KINDS = 20;
const MAX_KIND_LENGTH = 64;
const MAX_SEARCH_LENGTH = 256;
const MAX_ITEM_LENGTH = 20;

export interface TimelineState {
  /** The list's range, the chart's window; null until the tab picks its default. */
  range: TimeRange | null;
  /** The chart's whole range, when the window is narrower; null when they are the same. */
  chart: TimeRange | null;
  /** Kinds shown; empty for all. */
  kinds: string[];
  q: string;
  order: TimelineOrder;
  pageSize: number;
  trail: CursorTrail;
  /** The id of the event open in the flyout. */
  item: string | null;
}

export type TimelineChange =
  /** A range picked or typed: the chart shows it whole, with the window over all of it. */
  | { range: TimeRange }
  /** The chart's window moved: the list shows it, the chart keeps its range. */
  | { window: TimeRange; chart: TimeRange }
  | { kinds: string[] }
  | { q: string }
  | { order: TimelineOrder }
  | { pageSize: number }
  | { trail: CursorTrail }
  | { item: string | null };

const NAMES = {
  from: 'from',
  to: 'to',
  chartFrom: 'chart_from',
  chartTo: 'chart_to',
  kinds: 'kinds',
  q: 'q',
  order: 'order',
  size: 'size',
  item: 'item',
} as const;

function readRange(params: URLSearchParams, fromName: string, toName: string): TimeRange | null {
  const from = readTime(params.get(fromName));
  const to = readTime(params.get(toName));
  if (from === null || to === null || from.getTime() >= to.getTime()) return null;
  return { from, to };
}

function contains(outer: TimeRange, inner: TimeRange): boolean {
  return (
    outer.from.getTime() <= inner.from.getTime() &&
    inner.to.getTime() <= outer.to.getTime() &&
    (outer.from.getTime() !== inner.from.getTime() || outer.to.getTime() !== inner.to.getTime())
  );
}

function readKinds(params: URLSearchParams): string[] {
  const kinds = params
    .getAll(NAMES.kinds)
    .map((kind) => kind.trim())
    .filter((kind) => kind !== '' && kind.length <= MAX_KIND_LENGTH);
  return [...new Set(kinds)].slice(0, MAX_KINDS);
}

export function readTimelineState(params: URLSearchParams): TimelineState {
  const range = readRange(params, NAMES.from, NAMES.to);
  const chart = readRange(params, NAMES.chartFrom, NAMES.chartTo);
  const size = Number(params.get(NAMES.size));
  const item = params.get(NAMES.item);
  return {
    range,
    chart: range !== null && chart !== null && contains(chart, range) ? chart : null,
    kinds: readKinds(params),
    q: (params.get(NAMES.q) ?? '').trim().slice(0, MAX_SEARCH_LENGTH),
    order: params.get(NAMES.order) === 'oldest' ? 'oldest' : 'newest',
    pageSize: (PAGE_SIZES as readonly number[]).includes(size) ? size : DEFAULT_PAGE_SIZE,
    trail: readCursorTrail(params),
    item: item !== null && /^\d+$/.test(item) && item.length <= MAX_ITEM_LENGTH ? item : null,
  };
}

/** The address of a state; parameters that are not the timeline's (the tab) are kept. */
export function writeTimelineState(
  state: TimelineState,
  base: URLSearchParams = new URLSearchParams(),
): URLSearchParams {
  const params = new URLSearchParams(base);
  for (const name of Object.values(NAMES)) params.delete(name);
  if (state.range !== null) {
    params.set(NAMES.from, writeTime(state.range.from));
    params.set(NAMES.to, writeTime(state.range.to));
    if (state.chart !== null && contains(state.chart, state.range)) {
      params.set(NAMES.chartFrom, writeTime(state.chart.from));
      params.set(NAMES.chartTo, writeTime(state.chart.to));
    }
  }
  for (const kind of state.kinds) params.append(NAMES.kinds, kind);
  if (state.q !== '') params.set(NAMES.q, state.q);
  if (state.order !== 'newest') params.set(NAMES.order, state.order);
  if (state.pageSize !== DEFAULT_PAGE_SIZE) params.set(NAMES.size, String(state.pageSize));
  // The trail goes last, as it replaces any page and cursor the base had.
  const paged = writeCursorTrail(state.trail, params);
  if (state.item !== null) paged.set(NAMES.item, state.item);
  return paged;
}

/** Apply a change. Anything that changes which events are listed starts at the first page. */
export function changeTimelineState(state: TimelineState, change: TimelineChange): TimelineState {
  const restart = { ...state, trail: FIRST_PAGE };
  if ('window' in change) {
    return { ...restart, range: change.window, chart: change.chart };
  }
  if ('range' in change) return { ...restart, range: change.range, chart: null };
  if ('kinds' in change) return { ...restart, kinds: change.kinds.slice(0, MAX_KINDS) };
  if ('q' in change) return { ...restart, q: change.q.trim().slice(0, MAX_SEARCH_LENGTH) };
  if ('order' in change) return { ...restart, order: change.order };
  if ('pageSize' in change) return { ...restart, pageSize: change.pageSize };
  if ('trail' in change) return { ...state, trail: change.trail };
  return { ...state, item: change.item };
}

/** The chart's range: its own when the window was narrowed, else the window's. */
export function chartRange(state: TimelineState): TimeRange | null {
  return state.chart ?? state.range;
}

function rangeQuery(range: TimeRange | null): { from?: string; to?: string } {
  return range === null ? {} : { from: writeTime(range.from), to: writeTime(range.to) };
}

/** The list's query: one page of the window's events. */
export function listQuery(state: TimelineState): TimelineQuery {
  return {
    ...rangeQuery(state.range),
    kinds: state.kinds.length === 0 ? null : state.kinds,
    q: state.q === '' ? null : state.q,
    order: state.order,
    limit: state.pageSize,
    cursor: currentCursor(state.trail),
  };
}

/**
 * The chart's query: every kind, so the kind filter can offer each with its count; the
 * chart itself shows only the kinds chosen.
 */
export function histogramQuery(state: TimelineState): TimelineExportQuery {
  return { ...rangeQuery(chartRange(state)), q: state.q === '' ? null : state.q };
}

/** The export's query: the window's events, as the list shows them. */
export function exportQuery(state: TimelineState): TimelineExportQuery {
  return {
    ...rangeQuery(state.range),
    kinds: state.kinds.length === 0 ? null : state.kinds,
    q: state.q === '' ? null : state.q,
  };
}

/** The list as the shared table sees it: the page, its size, and the order as a sort. */
export function tableView(state: TimelineState): TableView {
  return {
    page: state.trail.page,
    pageSize: state.pageSize,
    sort: state.order === 'newest' ? '-time' : 'time',
  };
}

/** A change the shared table asks for, as a timeline change; null for ones it has not. */
export function fromTableChange(change: TableChange): TimelineChange | null {
  if ('sort' in change) return { order: change.sort === 'time' ? 'oldest' : 'newest' };
  if ('pageSize' in change) return { pageSize: change.pageSize };
  if ('item' in change) return { item: change.item };
  if ('page' in change) return { trail: FIRST_PAGE };
  return null;
}
