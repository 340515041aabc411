// The alert queue's view lives in the address: filters, the order, the page (a trail of the
// API's cursors) and the alert open in the flyout, so a pasted link shows the same queue.
// Values the server would refuse fall back to the defaults. Pure, so it is unit tested.

import type { AlertQueueQuery, AlertSeverity, AlertSort, AlertStatus } from '../../api/types';
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
import { ALERT_STATUSES, SEVERITIES } from '../../lib/alertLabels';

/** Activity windows that end now, and a range of the analyst's own. */
export const ACTIVITY_RANGES = ['24h', '7d', '30d', 'custom'] as const;
export type ActivityRange = (typeof ACTIVITY_RANGES)[number] | '';

export const QUEUE_SORTS: readonly AlertSort[] = [
  '-last_activity',
  'last_activity',
  '-first_activity',
  'first_activity',
  '-severity',
  'severity',
  'title',
  '-title',
  'status',
  '-status',
  '-event_count',
  'event_count',
];
const DEFAULT_SORT: AlertSort = '-last_activity';
// As long as the API takes them.
const MAX_TEXT = { assignee: 128, rule: 64, device: 256 } as const;
const MAX_ITEM_LENGTH = 36;

export interface AlertQueueState {
  severity: AlertSeverity | '';
  status: AlertStatus | '';
  /** An exact assignee name; '' for anyone. */
  assignee: string;
  /** Only alerts nobody is assigned to (then `assignee` is ignored). */
  unassigned: boolean;
  /** A rule id. */
  rule: string;
  /** Text in the device's name. */
  device: string;
  range: ActivityRange;
  /** The custom range's ends; either may be open. */
  from: Date | null;
  to: Date | null;
  sort: AlertSort;
  pageSize: number;
  trail: CursorTrail;
  /** The id of the alert open in the flyout. */
  item: string | null;
}

/** Changes of filters: each starts the list again at its first page. */
export type QueueFilters = Partial<
  Pick<
    AlertQueueState,
    'severity' | 'status' | 'assignee' | 'unassigned' | 'rule' | 'device' | 'range' | 'from' | 'to'
  >
>;

export type QueueChange =
  | { filters: QueueFilters }
  | { sort: AlertSort }
  | { pageSize: number }
  | { trail: CursorTrail }
  | { item: string | null };

const NAMES = {
  severity: 'severity',
  status: 'status',
  assignee: 'assignee',
  unassigned: 'unassigned',
  rule: 'rule',
  device: 'device',
  range: 'range',
  from: 'from',
  to: 'to',
  sort: 'sort',
  size: 'size',
  item: 'item',
} as const;

function oneOf<T extends string>(value: string | null, allowed: readonly T[]): T | '' {
  return value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : '';
}

function text(value: string | null, max: number): string {
  return (value ?? '').trim().slice(0, max);
}

export function readQueueState(params: URLSearchParams): AlertQueueState {
  const size = Number(params.get(NAMES.size));
  const sort = oneOf(params.get(NAMES.sort), QUEUE_SORTS);
  const item = params.get(NAMES.item);
  const range = oneOf(params.get(NAMES.range), ACTIVITY_RANGES);
  let from = range === 'custom' ? readTime(params.get(NAMES.from)) : null;
  let to = range === 'custom' ? readTime(params.get(NAMES.to)) : null;
  // A backwards range is one the server refuses: drop it rather than show an error.
  if (from !== null && to !== null && from.getTime() >= to.getTime()) {
    from = null;
    to = null;
  }
  return {
    severity: oneOf(params.get(NAMES.severity), SEVERITIES),
    status: oneOf(params.get(NAMES.status), ALERT_STATUSES),
    assignee: text(params.get(NAMES.assignee), MAX_TEXT.assignee),
    unassigned: params.get(NAMES.unassigned) === '1',
    rule: text(params.get(NAMES.rule), MAX_TEXT.rule),
    device: text(params.get(NAMES.device), MAX_TEXT.device),
    range,
    from,
    to,
    sort: sort === '' ? DEFAULT_SORT : sort,
    pageSize: (PAGE_SIZES as readonly number[]).includes(size) ? size : DEFAULT_PAGE_SIZE,
    trail: readCursorTrail(params),
    item: item !== null && item !== '' && item.length <= MAX_ITEM_LENGTH ? item : null,
  };
}

/** The address of a state; defaults and blanks are left out so links stay short. */
export function writeQueueState(state: AlertQueueState): URLSearchParams {
  const params = new URLSearchParams();
  const set = (name: string, value: string) => {
    if (value !== '') params.set(name, value);
  };
  set(NAMES.severity, state.severity);
  set(NAMES.status, state.status);
  if (state.unassigned) params.set(NAMES.unassigned, '1');
  else set(NAMES.assignee, state.assignee);
  set(NAMES.rule, state.rule);
  set(NAMES.device, state.device);
  set(NAMES.range, state.range);
  if (state.range === 'custom') {
    if (state.from !== null) params.set(NAMES.from, writeTime(state.from));
    if (state.to !== null) params.set(NAMES.to, writeTime(state.to));
  }
  if (state.sort !== DEFAULT_SORT) params.set(NAMES.sort, state.sort);
  if (state.pageSize !== DEFAULT_PAGE_SIZE) params.set(NAMES.size, String(state.pageSize));
  const paged = writeCursorTrail(state.trail, params);
  if (state.item !== null) paged.set(NAMES.item, state.item);
  return paged;
}

/** Apply a change. Anything that changes which alerts are listed starts at the first page. */
export function changeQueueState(state: AlertQueueState, change: QueueChange): AlertQueueState {
  const restart = { ...state, trail: FIRST_PAGE };
  if ('filters' in change) {
    const next = { ...restart, ...change.filters };
    return {
      ...next,
      assignee: next.assignee.trim().slice(0, MAX_TEXT.assignee),
      rule: next.rule.trim().slice(0, MAX_TEXT.rule),
      device: next.device.trim().slice(0, MAX_TEXT.device),
      from: next.range === 'custom' ? next.from : null,
      to: next.range === 'custom' ? next.to : null,
    };
  }
  if ('sort' in change) return { ...restart, sort: change.sort };
  if ('pageSize' in change) return { ...restart, pageSize: change.pageSize };
  if ('trail' in change) return { ...state, trail: change.trail };
  return { ...state, item: change.item };
}

const HOUR_MS = 3600 * 1000;
const RANGE_MS = { '24h': 24 * HOUR_MS, '7d': 7 * 24 * HOUR_MS, '30d': 30 * 24 * HOUR_MS };

/** The activity window asked of the server; a preset ends at `now`. */
export function activityBounds(
  state: AlertQueueState,
  now: Date,
): Pick<AlertQueueQuery, 'from' | 'to'> {
  if (state.range === 'custom') {
    return {
      from: state.from === null ? null : writeTime(state.from),
      to: state.to === null ? null : writeTime(state.to),
    };
  }
  if (state.range === '') return {};
  return { from: writeTime(new Date(now.getTime() - RANGE_MS[state.range])) };
}

/** The API query for the page shown. */
export function queueQuery(state: AlertQueueState, now: Date): AlertQueueQuery {
  return {
    severity: state.severity === '' ? null : [state.severity],
    status: state.status === '' ? null : [state.status],
    // The API reads an empty assignee as "unassigned".
    assignee: state.unassigned ? '' : state.assignee === '' ? null : state.assignee,
    rule: state.rule === '' ? null : state.rule,
    device_search: state.device === '' ? null : state.device,
    ...activityBounds(state, now),
    sort: state.sort,
    limit: state.pageSize,
    cursor: currentCursor(state.trail),
  };
}

export function hasQueueFilters(state: AlertQueueState): boolean {
  return (
    state.severity !== '' ||
    state.status !== '' ||
    state.assignee !== '' ||
    state.unassigned ||
    state.rule !== '' ||
    state.device !== '' ||
    state.range !== ''
  );
}

/** The list as the shared table sees it. */
export function queueTableView(state: AlertQueueState): TableView {
  return { page: state.trail.page, pageSize: state.pageSize, sort: state.sort };
}

/** A change the shared table asks for, as a queue change; null for ones it has not. */
export function fromTableChange(change: TableChange): QueueChange | null {
  if ('sort' in change) {
    const sort = oneOf(change.sort, QUEUE_SORTS);
    return sort === '' ? null : { sort };
  }
  if ('pageSize' in change) return { pageSize: change.pageSize };
  if ('item' in change) return { item: change.item };
  if ('page' in change) return { trail: FIRST_PAGE };
  return null;
}
