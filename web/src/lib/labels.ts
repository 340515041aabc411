// Human labels and badge colours for the coded values the API returns.
// Unknown codes (a newer server) fall back to the raw code rather than a blank.
import type { DeviceSource, ExposureLevel, HealthState, KnownFrom, RiskLevel } from '../api/types';

export type BadgeColor = 'success' | 'warning' | 'danger' | 'severe' | 'informative' | 'subtle';

export const UNKNOWN_LABEL = 'Unknown';
/** Risk and exposure are rated by analysis; a device no analysis could rate (no inventory,
 * or no imported feed that covers its software) is not assessed, which is not low. */
export const NOT_COMPUTED_LABEL = 'Not assessed';

const HEALTH_LABELS: Record<HealthState, string> = {
  active: 'Active',
  inactive: 'Inactive',
  misconfigured: 'Misconfigured',
  degraded: 'Degraded',
};

const HEALTH_COLORS: Record<HealthState, BadgeColor> = {
  active: 'success',
  inactive: 'subtle',
  misconfigured: 'warning',
  degraded: 'warning',
};

const LEVEL_LABELS: Record<RiskLevel, string> = {
  none: 'None',
  low: 'Low',
  medium: 'Medium',
  high: 'High',
};

const LEVEL_COLORS: Record<RiskLevel, BadgeColor> = {
  none: 'success',
  low: 'informative',
  medium: 'warning',
  high: 'danger',
};

const SOURCE_LABELS: Record<DeviceSource, string> = {
  agent: 'Agent',
  endpoint_logs: 'Endpoint logs',
  osquery: 'osquery',
  directory: 'Directory',
};

function lookup<K extends string, V>(table: Record<K, V>, key: string): V | undefined {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key as K] : undefined;
}

export function healthLabel(state: HealthState | null | undefined): string {
  if (state == null) {
    return UNKNOWN_LABEL;
  }
  return lookup(HEALTH_LABELS, state) ?? state;
}

export function healthColor(state: HealthState | null | undefined): BadgeColor {
  return state == null ? 'subtle' : (lookup(HEALTH_COLORS, state) ?? 'subtle');
}

/** Risk and exposure share one scale; null means not rated yet, and says so. */
export function levelLabel(level: RiskLevel | ExposureLevel | null | undefined): string {
  if (level == null) {
    return NOT_COMPUTED_LABEL;
  }
  return lookup(LEVEL_LABELS, level) ?? level;
}

export function levelColor(level: RiskLevel | ExposureLevel | null | undefined): BadgeColor {
  return level == null ? 'subtle' : (lookup(LEVEL_COLORS, level) ?? 'subtle');
}

export function sourceLabel(source: DeviceSource | string): string {
  return lookup(SOURCE_LABELS, source) ?? source;
}

const KNOWN_FROM_LABELS: Record<KnownFrom, string> = {
  endpoint: 'Endpoint',
  directory: 'Directory',
  both: 'Endpoint and directory',
};

/** Where a device is known from, as the device list shows it. */
export function knownFromLabel(knownFrom: KnownFrom | null | undefined): string {
  if (knownFrom == null) {
    return UNKNOWN_LABEL;
  }
  return lookup(KNOWN_FROM_LABELS, knownFrom) ?? knownFrom;
}

const SOFTWARE_SOURCE_LABELS: Record<string, string> = {
  dpkg: 'Debian package (dpkg)',
  rpm: 'RPM package',
  pip: 'Python package (pip)',
  npm: 'Node package (npm)',
  windows: 'Windows installer',
  osquery: 'osquery',
  other: 'Other',
};

export const SOFTWARE_SOURCES = Object.keys(SOFTWARE_SOURCE_LABELS);

export function softwareSourceLabel(source: string): string {
  return lookup(SOFTWARE_SOURCE_LABELS, source) ?? source;
}

interface OsParts {
  os_family?: string | null;
  os_name?: string | null;
  os_version?: string | null;
}

/** "Ubuntu 24.04", else the family ("linux"), else null when nothing is known. */
export function osLabel(os: OsParts): string | null {
  const name = os.os_name?.trim() ?? '';
  const version = os.os_version?.trim() ?? '';
  if (name !== '') {
    return version === '' || name.includes(version) ? name : `${name} ${version}`;
  }
  const family = os.os_family?.trim() ?? '';
  if (family !== '') {
    return version === '' ? family : `${family} ${version}`;
  }
  return null;
}

// Windows logon types, as event 4624 reports them.
const LOGON_TYPE_LABELS: Record<string, string> = {
  '2': 'interactive',
  '3': 'network',
  '4': 'batch',
  '5': 'service',
  '7': 'unlock',
  '8': 'network, clear text',
  '9': 'new credentials',
  '10': 'remote interactive',
  '11': 'cached interactive',
};

/** "logon type 10 (remote interactive)"; the number alone when the type is not one we know. */
export function logonTypeLabel(type: number): string {
  const name = lookup(LOGON_TYPE_LABELS, String(type));
  return name === undefined ? `logon type ${type}` : `logon type ${type} (${name})`;
}
