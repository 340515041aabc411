// Labels and colours for alert fields, and which rule references may become links.
// Unknown codes (a newer server) fall back to the raw code rather than a blank.
import type {
  AlertClassification,
  AlertDetermination,
  AlertSeverity,
  AlertStatus,
} from '../api/types';
import type { BadgeColor } from './labels';

export const SEVERITIES: readonly AlertSeverity[] = [
  'critical',
  'high',
  'medium',
  'low',
  'informational',
];
export const ALERT_STATUSES: readonly AlertStatus[] = ['new', 'in_progress', 'resolved'];
export const CLASSIFICATIONS: readonly AlertClassification[] = [
  'true_positive',
  'informational_expected',
  'false_positive',
];
export const DETERMINATIONS: readonly AlertDetermination[] = [
  'malware',
  'security_testing',
  'unwanted_software',
  'multistage_attack',
  'malicious_user_activity',
  'compromised_account',
  'phishing',
  'line_of_business_application',
  'confirmed_activity',
  'not_malicious',
  'not_enough_data',
  'other',
];

const SEVERITY_LABELS: Record<AlertSeverity, string> = {
  critical: 'Critical',
  high: 'High',
  medium: 'Medium',
  low: 'Low',
  informational: 'Informational',
};

const SEVERITY_COLORS: Record<AlertSeverity, BadgeColor> = {
  critical: 'severe',
  high: 'danger',
  medium: 'warning',
  low: 'informative',
  informational: 'subtle',
};

const STATUS_LABELS: Record<AlertStatus, string> = {
  new: 'New',
  in_progress: 'In progress',
  resolved: 'Resolved',
};

const CLASSIFICATION_LABELS: Record<AlertClassification, string> = {
  true_positive: 'True positive',
  informational_expected: 'Informational, expected activity',
  false_positive: 'False positive',
};

function lookup<K extends string, V>(table: Record<K, V>, key: string): V | undefined {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key as K] : undefined;
}

export function severityLabel(severity: string): string {
  return lookup(SEVERITY_LABELS, severity) ?? severity;
}

export function severityColor(severity: string): BadgeColor {
  return lookup(SEVERITY_COLORS, severity) ?? 'subtle';
}

export function alertStatusLabel(status: string): string {
  return lookup(STATUS_LABELS, status) ?? status;
}

export function classificationLabel(value: string): string {
  return lookup(CLASSIFICATION_LABELS, value) ?? value;
}

/** "line_of_business_application" -> "Line of business application". */
export function determinationLabel(value: string): string {
  const words = value.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * The address a rule reference may link to: only absolute http and https addresses.
 * References come from rule files, so anything else (javascript:, data:, relative paths)
 * is shown as plain text instead.
 */
export function safeLink(reference: string): string | null {
  let url: URL;
  try {
    url = new URL(reference.trim());
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
}
