// The device list's filters live in the address bar, so a filtered list can be shared
// and survives a reload. These functions read and write them, refusing values the API
// would reject.
import type { DeviceSort, HealthState } from '../../api/types';

export interface DeviceFilters {
  q: string;
  tag: string;
  health: HealthState | '';
  sort: DeviceSort;
}

export const DEFAULT_SORT: DeviceSort = 'name';
const SORTS: readonly DeviceSort[] = ['name', '-name', 'last_seen', '-last_seen'];
const HEALTH_STATES: readonly HealthState[] = ['active', 'inactive', 'misconfigured'];

/** A health filter value, or '' (all) for anything the API does not know. */
export function parseHealth(value: string | null): HealthState | '' {
  return (HEALTH_STATES as readonly (string | null)[]).includes(value)
    ? (value as HealthState)
    : '';
}

export function readFilters(params: URLSearchParams): DeviceFilters {
  const sort = params.get('sort') ?? '';
  return {
    q: params.get('q') ?? '',
    tag: params.get('tag') ?? '',
    health: parseHealth(params.get('health')),
    sort: (SORTS as readonly string[]).includes(sort) ? (sort as DeviceSort) : DEFAULT_SORT,
  };
}

/** Search parameters for the filters; defaults and empty values are left out. */
export function writeFilters(filters: DeviceFilters): URLSearchParams {
  const params = new URLSearchParams();
  if (filters.q.trim() !== '') params.set('q', filters.q.trim());
  if (filters.tag !== '') params.set('tag', filters.tag);
  if (filters.health !== '') params.set('health', filters.health);
  if (filters.sort !== DEFAULT_SORT) params.set('sort', filters.sort);
  return params;
}

export type SortColumn = 'name' | 'last_seen';

/** Clicking a column: sort by it ascending, or flip it if it is already the sort. */
export function nextSort(current: DeviceSort, column: SortColumn): DeviceSort {
  if (current === column) return `-${column}`;
  if (current === `-${column}`) return column;
  // Most recent first is what people want from "last seen".
  return column === 'last_seen' ? '-last_seen' : 'name';
}

export function sortDirection(
  current: DeviceSort,
  column: SortColumn,
): 'ascending' | 'descending' | undefined {
  if (current === column) return 'ascending';
  if (current === `-${column}`) return 'descending';
  return undefined;
}

export function hasFilters(filters: DeviceFilters): boolean {
  return filters.q.trim() !== '' || filters.tag !== '' || filters.health !== '';
}
