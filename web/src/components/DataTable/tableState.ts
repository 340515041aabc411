// A table's view lives in the address bar: page, page size, sort, filters and the item open
// in its flyout. A copied link shows the same rows, and the back button steps back through
// what the analyst did. These functions read and write that state; values the server
// would refuse fall back to the defaults.

export const PAGE_SIZES = [30, 50, 100, 200] as const;
export const DEFAULT_PAGE_SIZE = 30;
/** The server refuses offsets past this; pages beyond it cannot be asked for. */
export const MAX_OFFSET = 100_000;
const MAX_VALUE_LENGTH = 256;

export interface TableSpec {
  /** Sort values the server accepts, such as "name" and "-name". */
  sorts: readonly string[];
  defaultSort: string;
  /** Filters by URL parameter name: the values allowed, or null for free text. */
  filters: Readonly<Record<string, readonly string[] | null>>;
}

export interface TableState {
  /** 1-based. */
  page: number;
  pageSize: number;
  sort: string;
  /** Every filter of the spec, '' when not set. */
  filters: Record<string, string>;
  /** The id of the item shown in the flyout. */
  item: string | null;
}

export type TableChange =
  | { page: number }
  | { pageSize: number }
  | { sort: string }
  | { filters: Record<string, string> }
  | { item: string | null };

const PAGE = 'page';
const SIZE = 'size';
const SORT = 'sort';
const ITEM = 'item';

function lastPageFor(pageSize: number): number {
  return Math.floor(MAX_OFFSET / pageSize) + 1;
}

function readPositiveInt(text: string | null): number | null {
  if (text === null || !/^\d{1,7}$/.test(text)) return null;
  const value = Number(text);
  return value >= 1 ? value : null;
}

function readFilter(value: string | null, allowed: readonly string[] | null): string {
  const text = (value ?? '').trim().slice(0, MAX_VALUE_LENGTH);
  if (allowed !== null && !allowed.includes(text)) return '';
  return text;
}

export function readTableState(params: URLSearchParams, spec: TableSpec): TableState {
  const size = readPositiveInt(params.get(SIZE));
  const pageSize = (PAGE_SIZES as readonly number[]).includes(size ?? 0)
    ? (size as number)
    : DEFAULT_PAGE_SIZE;
  const page = Math.min(readPositiveInt(params.get(PAGE)) ?? 1, lastPageFor(pageSize));
  const sort = params.get(SORT) ?? '';
  const filters: Record<string, string> = {};
  for (const [name, allowed] of Object.entries(spec.filters)) {
    filters[name] = readFilter(params.get(name), allowed);
  }
  const item = params.get(ITEM);
  return {
    page,
    pageSize,
    sort: spec.sorts.includes(sort) ? sort : spec.defaultSort,
    filters,
    item: item === null || item === '' || item.length > MAX_VALUE_LENGTH ? null : item,
  };
}

/**
 * The address for a state. Parameters that are not the table's (such as the profile's tab)
 * are kept from `base`; defaults and blanks are left out, so links stay short.
 */
export function writeTableState(
  state: TableState,
  spec: TableSpec,
  base: URLSearchParams = new URLSearchParams(),
): URLSearchParams {
  const params = new URLSearchParams(base);
  for (const name of [PAGE, SIZE, SORT, ITEM, ...Object.keys(spec.filters)]) {
    params.delete(name);
  }
  for (const [name, value] of Object.entries(state.filters)) {
    if (name in spec.filters && value.trim() !== '') params.set(name, value.trim());
  }
  if (state.sort !== spec.defaultSort) params.set(SORT, state.sort);
  if (state.pageSize !== DEFAULT_PAGE_SIZE) params.set(SIZE, String(state.pageSize));
  if (state.page > 1) params.set(PAGE, String(state.page));
  if (state.item !== null) params.set(ITEM, state.item);
  return params;
}

/** Apply a change; new filters, a new sort or a new page size start again at page 1. */
export function changeTableState(state: TableState, change: TableChange): TableState {
  if ('page' in change) {
    return { ...state, page: Math.max(1, Math.min(change.page, lastPageFor(state.pageSize))) };
  }
  if ('pageSize' in change) {
    return { ...state, pageSize: change.pageSize, page: 1 };
  }
  if ('sort' in change) {
    return { ...state, sort: change.sort, page: 1 };
  }
  if ('filters' in change) {
    return { ...state, filters: { ...state.filters, ...change.filters }, page: 1 };
  }
  return { ...state, item: change.item };
}

/** The row offset the server is asked for. */
export function offsetOf(state: TableState): number {
  return (state.page - 1) * state.pageSize;
}

export function pageCount(total: number, pageSize: number): number {
  return Math.max(1, Math.min(Math.ceil(total / pageSize), lastPageFor(pageSize)));
}

export function hasActiveFilters(state: TableState): boolean {
  return Object.values(state.filters).some((value) => value !== '');
}

/** Clicking a column: sort by it, or flip it when it already is the sort. */
export function nextSort(current: string, column: string, descendingFirst = false): string {
  if (current === column) return `-${column}`;
  if (current === `-${column}`) return column;
  return descendingFirst ? `-${column}` : column;
}

export function sortDirection(
  current: string,
  column: string,
): 'ascending' | 'descending' | undefined {
  if (current === column) return 'ascending';
  if (current === `-${column}`) return 'descending';
  return undefined;
}
