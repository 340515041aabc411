// The device list's table spec, and the API query for a table state. Pure, so the mapping
// from what the address says to what the server is asked is unit tested.
import type {
  DeviceListQuery,
  DeviceSort,
  ExposureLevel,
  HealthState,
  KnownFrom,
  RiskLevel,
} from '../../api/types';
import { offsetOf } from '../../components/DataTable/tableState';
import type { TableSpec, TableState } from '../../components/DataTable/tableState';

export const HEALTH_STATES: readonly HealthState[] = [
  'active',
  'inactive',
  'misconfigured',
  'degraded',
];
export const RISK_LEVELS: readonly RiskLevel[] = ['none', 'low', 'medium', 'high'];
export const EXPOSURE_LEVELS: readonly ExposureLevel[] = ['low', 'medium', 'high'];
export const KNOWN_FROM: readonly KnownFrom[] = ['endpoint', 'directory', 'both'];

/** "Last seen" choices: within a window, or not for longer than 30 days. */
export const SEEN_WINDOWS = ['24h', '7d', '30d', 'over-30d'] as const;
export type SeenWindow = (typeof SEEN_WINDOWS)[number];

const SORTS: readonly DeviceSort[] = [
  'name',
  '-name',
  'domain',
  '-domain',
  'os',
  '-os',
  'last_seen',
  '-last_seen',
  'first_seen',
  '-first_seen',
];

export const DEVICE_TABLE: TableSpec = {
  sorts: SORTS,
  defaultSort: 'name',
  filters: {
    q: null,
    known_from: KNOWN_FROM,
    health: HEALTH_STATES,
    risk: RISK_LEVELS,
    exposure: EXPOSURE_LEVELS,
    domain: null,
    os: null,
    tag: null,
    seen: SEEN_WINDOWS,
  },
};

const HOUR_MS = 3600 * 1000;
const WINDOW_MS: Record<Exclude<SeenWindow, 'over-30d'>, number> = {
  '24h': 24 * HOUR_MS,
  '7d': 7 * 24 * HOUR_MS,
  '30d': 30 * 24 * HOUR_MS,
};

function seenBounds(
  seen: string,
  now: Date,
): Pick<DeviceListQuery, 'last_seen_after' | 'last_seen_before'> {
  if (seen === 'over-30d') {
    return { last_seen_before: new Date(now.getTime() - WINDOW_MS['30d']).toISOString() };
  }
  if (seen in WINDOW_MS) {
    const window = WINDOW_MS[seen as keyof typeof WINDOW_MS];
    return { last_seen_after: new Date(now.getTime() - window).toISOString() };
  }
  return {};
}

function orNull<T extends string>(value: string | undefined): T | null {
  return value === undefined || value === '' ? null : (value as T);
}

/** The API query for one page of the list. */
export function deviceQuery(state: TableState, now: Date = new Date()): DeviceListQuery {
  const f = state.filters;
  const tag = f['tag'] ?? '';
  return {
    q: orNull(f['q']),
    known_from: orNull<KnownFrom>(f['known_from']),
    health: orNull<HealthState>(f['health']),
    risk: orNull<RiskLevel>(f['risk']),
    exposure: orNull<ExposureLevel>(f['exposure']),
    domain: orNull(f['domain']),
    os: orNull(f['os']),
    tag: tag === '' ? null : [tag],
    ...seenBounds(f['seen'] ?? '', now),
    sort: state.sort as DeviceSort,
    limit: state.pageSize,
    offset: offsetOf(state),
  };
}
