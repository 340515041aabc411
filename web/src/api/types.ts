// Request and response shapes of the Hostwatch REST API under /api.
// Written by hand for now; to be generated from the server's OpenAPI schema.
// Every string in these shapes may come from a device and is untrusted: render it as text.

/** An ISO-8601 time in UTC, such as "2026-12-04T14:11:03Z". */
export type IsoTime = string;

export type Role = 'viewer' | 'analyst' | 'responder' | 'admin';

export type HealthState = 'active' | 'inactive' | 'misconfigured';
export type RiskLevel = 'none' | 'low' | 'medium' | 'high';
export type ExposureLevel = 'low' | 'medium' | 'high';
export type DeviceSource = 'agent' | 'endpoint_logs' | 'directory';
export type TagKind = 'user' | 'system';

/** An RFC 9457 problem-details body, as every API error returns. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  request_id?: string;
  /** What the user can do about it. */
  hint?: string;
  errors?: { field: string; message: string }[];
}

export interface User {
  name: string;
  role: Role;
}

export interface LoginRequest {
  username: string;
  password: string;
}

export interface LoginResponse {
  user: User;
  csrf_token: string;
}

export interface MeResponse extends User {
  /** null for API-token callers, who need no CSRF token. */
  csrf_token: string | null;
}

export interface Tag {
  name: string;
  kind: TagKind;
}

export interface DeviceSummary {
  id: string;
  name: string;
  fqdn: string | null;
  domain: string | null;
  os_family: string | null;
  os_name: string | null;
  os_version: string | null;
  health_state: HealthState | null;
  risk_level: RiskLevel | null;
  exposure_level: ExposureLevel | null;
  tags: Tag[];
  sources: DeviceSource[];
  ip_addresses: string[];
  first_seen: IsoTime | null;
  last_seen: IsoTime | null;
}

export type DeviceSort = 'name' | '-name' | 'last_seen' | '-last_seen';

export interface DeviceListQuery {
  q?: string;
  tag?: string;
  health?: HealthState;
  sort?: DeviceSort;
  limit?: number;
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
  total: number;
}

export interface SecurityInfo {
  open_incidents: number | null;
  active_alerts: number | null;
  risk_level: RiskLevel | null;
  exposure_level: ExposureLevel | null;
}

export interface Resources {
  cpu_count: number | null;
  cpu_model: string | null;
  memory_bytes: number | null;
  disk_total_bytes: number | null;
  disk_free_bytes: number | null;
}

export interface DeviceDetails {
  hostname: string | null;
  fqdn: string | null;
  domain: string | null;
  os_family: string | null;
  os_name: string | null;
  os_version: string | null;
  os_kernel: string | null;
  os_arch: string | null;
  ip_addresses: string[] | null;
  mac_addresses: string[] | null;
  resources: Resources | null;
  health_state: HealthState | null;
  health_reasons: string[] | null;
  boot_time: IsoTime | null;
  machine_id: string | null;
  sam_name: string | null;
  directory_created: IsoTime | null;
  agent_version: string | null;
}

export interface NetworkActivity {
  first_seen: IsoTime | null;
  last_seen: IsoTime | null;
}

export interface DirectoryData {
  distinguished_name: string | null;
  uac_flags: string[] | null;
  spns: string[] | null;
  groups: string[] | null;
}

export interface LoggedOnUser {
  name: string;
  terminal: string | null;
  host: string | null;
  started: IsoTime | null;
  source: string | null;
}

export interface Inventory {
  collected_at: IsoTime | null;
  software_count: number | null;
}

export interface AgentStatus {
  spool_events: number | null;
  spool_bytes: number | null;
  dropped_events: number | null;
  errors: string[] | null;
  cpu_percent: number | null;
  rss_bytes: number | null;
}

export interface AgentInfo {
  enrolled_at: IsoTime | null;
  last_heartbeat: IsoTime | null;
  version: string | null;
  /** The server no longer accepts this agent's credential. */
  revoked?: boolean;
  status: AgentStatus | null;
}

export interface DeviceDetail {
  id: string;
  name: string;
  sources: DeviceSource[] | null;
  tags: Tag[] | null;
  security: SecurityInfo | null;
  details: DeviceDetails | null;
  network_activity: NetworkActivity | null;
  directory: DirectoryData | null;
  /** null: not reported yet; []: the device reported no sessions. */
  logged_on_users: LoggedOnUser[] | null;
  inventory: Inventory | null;
  agent: AgentInfo | null;
}
