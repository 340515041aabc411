// The one place that talks to the Hostwatch API. Pages call these typed functions,
// never fetch() directly, so the CSRF header and error handling live here only.
import type {
  ActionDetail,
  ActionListQuery,
  ActionPage,
  ActionRequest,
  AlertDetail,
  AlertListQuery,
  AlertPage,
  AlertPatch,
  AlertQueueQuery,
  BulkTagsRequest,
  BulkTagsResponse,
  CancelRequest,
  DeviceDetail,
  DeviceListQuery,
  DevicePage,
  EventDetail,
  Histogram,
  HistogramQuery,
  IncidentDetail,
  IncidentListQuery,
  IncidentPage,
  IncidentPatch,
  LoginRequest,
  LoginResponse,
  MeResponse,
  Preferences,
  PreferencesUpdate,
  Problem,
  ProcessTree,
  FindingPatch,
  SoftwareDetail,
  RecommendationDetail,
  RecommendationListQuery,
  RecommendationPage,
  RecommendationPatch,
  MissingUpdatesPage,
  MissingUpdatesQuery,
  SoftwareListQuery,
  SoftwarePage,
  Tag,
  TimelineExportQuery,
  TimelinePage,
  TimelineQuery,
  Coverage,
  VulnerabilityDetail,
  VulnerabilityListQuery,
  VulnerabilityPage,
} from './types';

const API_BASE = '/api';
const CSRF_COOKIE = 'hw_csrf';
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** An error answer from the API, carrying its problem-details body. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    super(problem.detail ?? problem.title ?? `Request failed with status ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }
}

/** The server could not be reached at all (down, or the network failed). */
export class NetworkError extends Error {
  constructor() {
    super('Could not reach the Hostwatch server. Check that it is running, then try again.');
    this.name = 'NetworkError';
  }
}

let csrfToken: string | null = null;

/** Remember the CSRF token from the last login or session check. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

function readCookie(name: string): string | null {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) {
      return decodeURIComponent(rest.join('='));
    }
  }
  return null;
}

// The cookie wins when present: the server may rotate the token at any answer.
function currentCsrfToken(): string | null {
  return readCookie(CSRF_COOKIE) ?? csrfToken;
}

async function problemFrom(response: Response): Promise<Problem> {
  const fallback: Problem = { status: response.status, title: response.statusText };
  try {
    const body: unknown = await response.json();
    if (body !== null && typeof body === 'object') {
      return { ...fallback, ...(body as Problem) };
    }
  } catch {
    // Not JSON (a proxy's error page, say): keep the status line.
  }
  return fallback;
}

interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  signal?: AbortSignal | undefined;
}

async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  if (UNSAFE_METHODS.has(method)) {
    const token = currentCsrfToken();
    if (token !== null) {
      headers['X-CSRF-Token'] = token;
    }
  }

  let response: Response;
  try {
    response = await fetch(API_BASE + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: options.body === undefined ? null : JSON.stringify(options.body),
      signal: options.signal ?? null,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') {
      throw error;
    }
    throw new NetworkError();
  }

  if (!response.ok) {
    throw new ApiError(response.status, await problemFrom(response));
  }
  if (response.status === 204) {
    return undefined as T;
  }
  return (await response.json()) as T;
}

type QueryValue = string | number | boolean | readonly string[] | null | undefined;

/** "?a=1&tag=x&tag=y" from the parameters that are set; blanks and nulls are left out. */
export function queryString(params: Record<string, QueryValue>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value == null || value === '') {
      continue;
    }
    if (typeof value === 'object') {
      for (const item of value) search.append(key, item);
    } else {
      search.set(key, String(value));
    }
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

export async function login(credentials: LoginRequest): Promise<LoginResponse> {
  const answer = await request<LoginResponse>('/auth/login', {
    method: 'POST',
    body: credentials,
  });
  setCsrfToken(answer.csrf_token);
  return answer;
}

export async function logout(): Promise<void> {
  await request<void>('/auth/logout', { method: 'POST' });
  setCsrfToken(null);
}

export async function getMe(signal?: AbortSignal): Promise<MeResponse> {
  const me = await request<MeResponse>('/auth/me', { signal });
  setCsrfToken(me.csrf_token);
  return me;
}

export function listDevices(query: DeviceListQuery, signal?: AbortSignal): Promise<DevicePage> {
  return request<DevicePage>(`/devices${queryString({ ...query })}`, { signal });
}

export function getDevice(id: string, signal?: AbortSignal): Promise<DeviceDetail> {
  return request<DeviceDetail>(`/devices/${encodeURIComponent(id)}`, { signal });
}

export function listSoftware(
  deviceId: string,
  query: SoftwareListQuery,
  signal?: AbortSignal,
): Promise<SoftwarePage> {
  return request<SoftwarePage>(
    `/devices/${encodeURIComponent(deviceId)}/software${queryString({ ...query })}`,
    { signal },
  );
}

export function listMissingUpdates(
  deviceId: string,
  query: MissingUpdatesQuery,
  signal?: AbortSignal,
): Promise<MissingUpdatesPage> {
  return request<MissingUpdatesPage>(
    `/devices/${encodeURIComponent(deviceId)}/missing-updates${queryString({ ...query })}`,
    { signal },
  );
}

export function getSoftware(
  deviceId: string,
  softwareId: string,
  signal?: AbortSignal,
): Promise<SoftwareDetail> {
  return request<SoftwareDetail>(
    `/devices/${encodeURIComponent(deviceId)}/software/${encodeURIComponent(softwareId)}`,
    { signal },
  );
}

export function listDeviceVulnerabilities(
  deviceId: string,
  query: VulnerabilityListQuery,
  signal?: AbortSignal,
): Promise<VulnerabilityPage> {
  return request<VulnerabilityPage>(
    `/devices/${encodeURIComponent(deviceId)}/vulnerabilities${queryString({ ...query })}`,
    { signal },
  );
}

export function getVulnerabilityCoverage(
  deviceId: string,
  signal?: AbortSignal,
): Promise<Coverage> {
  return request<Coverage>(`/devices/${encodeURIComponent(deviceId)}/vulnerabilities/coverage`, {
    signal,
  });
}

export function getDeviceVulnerability(
  deviceId: string,
  findingId: string,
  signal?: AbortSignal,
): Promise<VulnerabilityDetail> {
  return request<VulnerabilityDetail>(
    `/devices/${encodeURIComponent(deviceId)}/vulnerabilities/${encodeURIComponent(findingId)}`,
    { signal },
  );
}

export function patchFinding(findingId: number, patch: FindingPatch): Promise<VulnerabilityDetail> {
  return request<VulnerabilityDetail>(`/findings/${encodeURIComponent(String(findingId))}`, {
    method: 'PATCH',
    body: patch,
  });
}

export function listDeviceAlerts(
  deviceId: string,
  query: AlertListQuery,
  signal?: AbortSignal,
): Promise<AlertPage> {
  return request<AlertPage>(
    `/devices/${encodeURIComponent(deviceId)}/alerts${queryString({ ...query })}`,
    { signal },
  );
}

export function getAlert(alertId: string, signal?: AbortSignal): Promise<AlertDetail> {
  return request<AlertDetail>(`/alerts/${encodeURIComponent(alertId)}`, { signal });
}

export function patchAlert(alertId: string, patch: AlertPatch): Promise<AlertDetail> {
  return request<AlertDetail>(`/alerts/${encodeURIComponent(alertId)}`, {
    method: 'PATCH',
    body: patch,
  });
}

export function listDeviceRecommendations(
  deviceId: string,
  query: RecommendationListQuery,
  signal?: AbortSignal,
): Promise<RecommendationPage> {
  return request<RecommendationPage>(
    `/devices/${encodeURIComponent(deviceId)}/recommendations${queryString({ ...query })}`,
    { signal },
  );
}

export function getRecommendation(id: number, signal?: AbortSignal): Promise<RecommendationDetail> {
  return request<RecommendationDetail>(`/recommendations/${encodeURIComponent(id)}`, { signal });
}

export function patchRecommendation(
  id: number,
  patch: RecommendationPatch,
): Promise<RecommendationDetail> {
  return request<RecommendationDetail>(`/recommendations/${encodeURIComponent(id)}`, {
    method: 'PATCH',
    body: patch,
  });
}

export function listAlerts(query: AlertQueueQuery, signal?: AbortSignal): Promise<AlertPage> {
  let search = queryString({ ...query });
  // An empty assignee asks for the unassigned alerts; queryString leaves blanks out.
  if (query.assignee === '') search = `${search === '' ? '?' : `${search}&`}assignee=`;
  return request<AlertPage>(`/alerts${search}`, { signal });
}

export function listIncidents(
  query: IncidentListQuery,
  signal?: AbortSignal,
): Promise<IncidentPage> {
  return request<IncidentPage>(`/incidents${queryString({ ...query })}`, { signal });
}

export function getIncident(incidentId: string, signal?: AbortSignal): Promise<IncidentDetail> {
  return request<IncidentDetail>(`/incidents/${encodeURIComponent(incidentId)}`, { signal });
}

export function patchIncident(incidentId: string, patch: IncidentPatch): Promise<IncidentDetail> {
  return request<IncidentDetail>(`/incidents/${encodeURIComponent(incidentId)}`, {
    method: 'PATCH',
    body: patch,
  });
}

function timelinePath(deviceId: string, what = ''): string {
  return `/devices/${encodeURIComponent(deviceId)}/timeline${what}`;
}

export function getTimeline(
  deviceId: string,
  query: TimelineQuery,
  signal?: AbortSignal,
): Promise<TimelinePage> {
  return request<TimelinePage>(`${timelinePath(deviceId)}${queryString({ ...query })}`, { signal });
}

export function getTimelineHistogram(
  deviceId: string,
  query: HistogramQuery,
  signal?: AbortSignal,
): Promise<Histogram> {
  return request<Histogram>(`${timelinePath(deviceId, '/histogram')}${queryString({ ...query })}`, {
    signal,
  });
}

/** A CSV download: its text and the file name the server chose. */
export interface CsvFile {
  blob: Blob;
  fileName: string;
}

const FILE_NAME = /filename="([^"]+)"/;

/** The timeline of a range as CSV (at most 7 days; the server answers 400 for longer). */
export async function exportTimeline(
  deviceId: string,
  query: TimelineExportQuery,
  signal?: AbortSignal,
): Promise<CsvFile> {
  const path = `${timelinePath(deviceId, '/export')}${queryString({ ...query })}`;
  let response: Response;
  try {
    response = await fetch(API_BASE + path, {
      headers: { Accept: 'text/csv' },
      credentials: 'same-origin',
      signal: signal ?? null,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new NetworkError();
  }
  if (!response.ok) {
    throw new ApiError(response.status, await problemFrom(response));
  }
  const named = FILE_NAME.exec(response.headers.get('Content-Disposition') ?? '');
  // Limitation: the whole file is held in memory before it is saved; a week of a busy
  // device's events is tens of megabytes.
  return { blob: await response.blob(), fileName: named?.[1] ?? 'timeline.csv' };
}

export function getEvent(eventId: string, signal?: AbortSignal): Promise<EventDetail> {
  return request<EventDetail>(`/events/${encodeURIComponent(eventId)}`, { signal });
}

export function getProcessTree(eventId: string, signal?: AbortSignal): Promise<ProcessTree> {
  return request<ProcessTree>(`/events/${encodeURIComponent(eventId)}/process-tree`, { signal });
}

/** Add user tags to a device; answers with all of the device's tags. */
export function addTags(deviceId: string, tags: string[]): Promise<Tag[]> {
  return request<Tag[]>(`/devices/${encodeURIComponent(deviceId)}/tags`, {
    method: 'POST',
    body: { tags },
  });
}

export function removeTag(deviceId: string, tag: string): Promise<void> {
  return request<void>(`/devices/${encodeURIComponent(deviceId)}/tags/${encodeURIComponent(tag)}`, {
    method: 'DELETE',
  });
}

export function getPreferences(signal?: AbortSignal): Promise<Preferences> {
  return request<Preferences>('/me/preferences', { signal });
}

export function putPreferences(preferences: PreferencesUpdate): Promise<Preferences> {
  return request<Preferences>('/me/preferences', { method: 'PUT', body: preferences });
}

/** Add and remove user tags on many devices at once; the answer tells each device's outcome. */
export function bulkTags(body: BulkTagsRequest): Promise<BulkTagsResponse> {
  return request<BulkTagsResponse>('/devices/tags', { method: 'POST', body });
}

/** Ask for a response action on a device; the answer is the action, in state "requested". */
export function requestAction(deviceId: string, body: ActionRequest): Promise<ActionDetail> {
  return request<ActionDetail>(`/devices/${encodeURIComponent(deviceId)}/actions`, {
    method: 'POST',
    body,
  });
}

/** The action center: every device's actions (or one device's, with `device_id`). */
export function listActions(query: ActionListQuery, signal?: AbortSignal): Promise<ActionPage> {
  return request<ActionPage>(`/actions${queryString({ ...query })}`, { signal });
}

export function getAction(actionId: string, signal?: AbortSignal): Promise<ActionDetail> {
  return request<ActionDetail>(`/actions/${encodeURIComponent(actionId)}`, { signal });
}

/** Cancel an action the device has not received yet (the server answers 409 otherwise). */
export function cancelAction(actionId: string, body: CancelRequest = {}): Promise<ActionDetail> {
  return request<ActionDetail>(`/actions/${encodeURIComponent(actionId)}/cancel`, {
    method: 'POST',
    body,
  });
}
