// The incident list's view in the address: status and severity filters, the page (a trail
// of the API's cursors) and the incident open in the flyout. Pure, so it is unit tested.

import type { AlertSeverity, IncidentListQuery, IncidentStatus } from '../../api/types';
import {
  FIRST_PAGE,
  currentCursor,
  readCursorTrail,
  writeCursorTrail,
} from '../../components/DataTable/cursorPaging';
import type { CursorTrail } from '../../components/DataTable/cursorPaging';
import { DEFAULT_PAGE_SIZE, PAGE_SIZES } from '../../components/DataTable/tableState';
import type { TableChange } from '../../components/DataTable/tableState';
import { SEVERITIES } from '../../lib/alertLabels';

export const INCIDENT_STATUSES: readonly IncidentStatus[] = ['active', 'in_progress', 'resolved'];
/**
 * The list is newest activity first.
 * Limitation: the incidents API sorts by last activity only, so the columns do not sort.
 */
export const INCIDENT_SORT = '-last_activity';
const MAX_ITEM_LENGTH = 36;

export interface IncidentsState {
  status: IncidentStatus | '';
  severity: AlertSeverity | '';
  pageSize: number;
  trail: CursorTrail;
  item: string | null;
}

export type IncidentsChange =
  | { filters: Partial<Pick<IncidentsState, 'status' | 'severity'>> }
  | { pageSize: number }
  | { trail: CursorTrail }
  | { item: string | null };

function oneOf<T extends string>(value: string | null, allowed: readonly T[]): T | '' {
  return value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : '';
}

export function readIncidentsState(params: URLSearchParams): IncidentsState {
  const size = Number(params.get('size'));
  const item = params.get('item');
  return {
    status: oneOf(params.get('status'), INCIDENT_STATUSES),
    severity: oneOf(params.get('severity'), SEVERITIES),
    pageSize: (PAGE_SIZES as readonly number[]).includes(size) ? size : DEFAULT_PAGE_SIZE,
    trail: readCursorTrail(params),
    item: item !== null && item !== '' && item.length <= MAX_ITEM_LENGTH ? item : null,
  };
}

export function writeIncidentsState(state: IncidentsState): URLSearchParams {
  const params = new URLSearchParams();
  if (state.status !== '') params.set('status', state.status);
  if (state.severity !== '') params.set('severity', state.severity);
  if (state.pageSize !== DEFAULT_PAGE_SIZE) params.set('size', String(state.pageSize));
  const paged = writeCursorTrail(state.trail, params);
  if (state.item !== null) paged.set('item', state.item);
  return paged;
}

export function changeIncidentsState(
  state: IncidentsState,
  change: IncidentsChange,
): IncidentsState {
  if ('filters' in change) return { ...state, ...change.filters, trail: FIRST_PAGE };
  if ('pageSize' in change) return { ...state, pageSize: change.pageSize, trail: FIRST_PAGE };
  if ('trail' in change) return { ...state, trail: change.trail };
  return { ...state, item: change.item };
}

export function incidentsQuery(state: IncidentsState): IncidentListQuery {
  return {
    status: state.status === '' ? null : [state.status],
    severity: state.severity === '' ? null : [state.severity],
    limit: state.pageSize,
    cursor: currentCursor(state.trail),
  };
}

/** A change the shared table asks for; it has no sort to change. */
export function fromTableChange(change: TableChange): IncidentsChange | null {
  if ('pageSize' in change) return { pageSize: change.pageSize };
  if ('item' in change) return { item: change.item };
  if ('page' in change) return { trail: FIRST_PAGE };
  return null;
}

const STATUS_LABELS: Record<IncidentStatus, string> = {
  active: 'Active',
  in_progress: 'In progress',
  resolved: 'Resolved',
};

/** An incident status as the page says it; an unknown one (a newer server) as its code. */
export function incidentStatusLabel(status: string): string {
  return Object.prototype.hasOwnProperty.call(STATUS_LABELS, status)
    ? STATUS_LABELS[status as IncidentStatus]
    : status;
}
