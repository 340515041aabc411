// The action center's view lives in the address: filters (state, type, device, requester,
// time), the order, the page (a trail of the API's cursors) and the action open in the
// flyout, so a pasted link shows the same list. Other parameters (the profile's tab) are
// kept. Values the server would refuse fall back to the defaults. Pure, so unit tested.
import type { ActionListQuery, ActionSort, ActionState, ActionType } from '../../api/types';
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
import { ACTION_STATES, ACTION_TYPES } from '../../lib/actionLabels';

export const REQUESTED_RANGES = ['24h', '7d', '30d', 'custom'] as const;
export type RequestedRange = (typeof REQUESTED_RANGES)[number] | '';

export const ACTION_SORTS: readonly ActionSort[] = [
  '-requested_at',
  'requested_at',
  '-completed_at',
  'completed_at',
  '-expires_at',
  'expires_at',
  'type',
  '-type',
  'state',
  '-state',
];
const DEFAULT_SORT: ActionSort = '-requested_at';
// As long as the API takes them.
const MAX_REQUESTER = 128;
const MAX_ID = 36;

export interface ActionListState {
  state: ActionState | '';
  type: ActionType | '';
  /** A device id; '' for every device. */
  device: string;
  /** An exact user name. */
  requester: string;
  range: RequestedRange;
  from: Date | null;
  to: Date | null;
  sort: ActionSort;
  pageSize: number;
  trail: CursorTrail;
  /** The id of the action open in the flyout. */
  item: string | null;
}

export type ActionFilters = Partial<
  Pick<ActionListState, 'state' | 'type' | 'device' | 'requester' | 'range' | 'from' | 'to'>
>;

export type ActionListChange =
  | { filters: ActionFilters }
  | { sort: ActionSort }
  | { pageSize: number }
  | { trail: CursorTrail }
  | { item: string | null };

const NAMES = {
  state: 'state',
  type: 'type',
  device: 'device',
  requester: 'requester',
  range: 'range',
  from: 'from',
  to: 'to',
  sort: 'sort',
  size: 'size',
  item: 'item',
  cursor: 'cursor',
  page: 'page',
} as const;

function oneOf<T extends string>(value: string | null, allowed: readonly T[]): T | '' {
  return value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : '';
}

function id(value: string | null): string {
  const text = (value ?? '').trim();
  return text.length <= MAX_ID ? text : '';
}

export function readActionListState(params: URLSearchParams): ActionListState {
  const size = Number(params.get(NAMES.size));
  const sort = oneOf(params.get(NAMES.sort), ACTION_SORTS);
  const item = id(params.get(NAMES.item));
  const range = oneOf(params.get(NAMES.range), REQUESTED_RANGES);
  let from = range === 'custom' ? readTime(params.get(NAMES.from)) : null;
  let to = range === 'custom' ? readTime(params.get(NAMES.to)) : null;
  // A backwards range is one the server refuses: drop it rather than show an error.
  if (from !== null && to !== null && from.getTime() >= to.getTime()) {
    from = null;
    to = null;
  }
  return {
    state: oneOf(params.get(NAMES.state), ACTION_STATES),
    type: oneOf(params.get(NAMES.type), ACTION_TYPES),
    device: id(params.get(NAMES.device)),
    requester: (params.get(NAMES.requester) ?? '').trim().slice(0, MAX_REQUESTER),
    range,
    from,
    to,
    sort: sort === '' ? DEFAULT_SORT : sort,
    pageSize: (PAGE_SIZES as readonly number[]).includes(size) ? size : DEFAULT_PAGE_SIZE,
    trail: readCursorTrail(params),
    item: item === '' ? null : item,
  };
}

/**
 * The address of a state, keeping the parameters of `base` that are not the list's (the
 * profile's tab); defaults and blanks are left out so links stay short.
 */
export function writeActionListState(
  state: ActionListState,
  base: URLSearchParams = new URLSearchParams(),
): URLSearchParams {
  const params = new URLSearchParams(base);
  for (const name of Object.values(NAMES)) params.delete(name);
  const set = (name: string, value: string) => {
    if (value !== '') params.set(name, value);
  };
  set(NAMES.state, state.state);
  set(NAMES.type, state.type);
  set(NAMES.device, state.device);
  set(NAMES.requester, state.requester);
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

/** Apply a change. Anything that changes which actions are listed starts at the first page. */
export function changeActionListState(
  state: ActionListState,
  change: ActionListChange,
): ActionListState {
  const restart = { ...state, trail: FIRST_PAGE };
  if ('filters' in change) {
    const next = { ...restart, ...change.filters };
    return {
      ...next,
      device: next.device.trim(),
      requester: next.requester.trim().slice(0, MAX_REQUESTER),
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

/**
 * The API query for the page shown. `deviceId` pins the list to one device (the profile's
 * tab), whatever the address says.
 */
export function actionListQuery(
  state: ActionListState,
  now: Date,
  deviceId?: string,
): ActionListQuery {
  let bounds: Pick<ActionListQuery, 'from' | 'to'> = {};
  if (state.range === 'custom') {
    bounds = {
      from: state.from === null ? null : writeTime(state.from),
      to: state.to === null ? null : writeTime(state.to),
    };
  } else if (state.range !== '') {
    bounds = { from: writeTime(new Date(now.getTime() - RANGE_MS[state.range])) };
  }
  const device = deviceId ?? state.device;
  return {
    device_id: device === '' ? null : device,
    state: state.state === '' ? null : [state.state],
    type: state.type === '' ? null : [state.type],
    requested_by: state.requester === '' ? null : state.requester,
    ...bounds,
    sort: state.sort,
    limit: state.pageSize,
    cursor: currentCursor(state.trail),
  };
}

export function hasActionFilters(state: ActionListState, ignoreDevice = false): boolean {
  return (
    state.state !== '' ||
    state.type !== '' ||
    (!ignoreDevice && state.device !== '') ||
    state.requester !== '' ||
    state.range !== ''
  );
}

/** The list as the shared table sees it. */
export function actionTableView(state: ActionListState): TableView {
  return { page: state.trail.page, pageSize: state.pageSize, sort: state.sort };
}

/** A change the shared table asks for, as a list change; null for ones it has not. */
export function fromTableChange(change: TableChange): ActionListChange | null {
  if ('sort' in change) {
    const sort = oneOf(change.sort, ACTION_SORTS);
    return sort === '' ? null : { sort };
  }
  if ('pageSize' in change) return { pageSize: change.pageSize };
  if ('item' in change) return { item: change.item };
  if ('page' in change) return { trail: FIRST_PAGE };
  return null;
}
