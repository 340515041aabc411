// Labels for discovered vulnerabilities and the rules of the mark-as form.
// Unknown codes (a newer server) fall back to the raw code rather than a blank.
import type {
  FindingPatch,
  FindingStatus,
  MatchStatus,
  Threats,
  VulnerabilitySeverity,
} from '../api/types';
import type { BadgeColor } from './labels';

export const VULN_SEVERITIES: readonly VulnerabilitySeverity[] = [
  'critical',
  'high',
  'medium',
  'low',
  'none',
];
/** A filter value for findings whose vulnerability has no vector that scores. */
export const UNSCORED = 'unscored';
export const FINDING_STATUSES: readonly FindingStatus[] = [
  'open',
  'accepted_risk',
  'false_positive',
];
export const MATCH_STATUSES: readonly MatchStatus[] = ['affected', 'unknown'];
export const MARKINGS: readonly Exclude<FindingStatus, 'open'>[] = [
  'accepted_risk',
  'false_positive',
];

const SEVERITY_LABELS: Record<string, string> = {
  critical: 'Critical',
  high: 'High',
  medium: 'Medium',
  low: 'Low',
  none: 'None',
  [UNSCORED]: 'Not scored',
};
const SEVERITY_COLORS: Record<string, BadgeColor> = {
  critical: 'severe',
  high: 'danger',
  medium: 'warning',
  low: 'informative',
  none: 'subtle',
};
const STATUS_LABELS: Record<string, string> = {
  open: 'Open',
  accepted_risk: 'Accepted risk',
  false_positive: 'False positive',
};
const MATCH_LABELS: Record<string, string> = {
  affected: 'Affected',
  unknown: 'Unknown (version not decidable)',
};

export function vulnSeverityLabel(severity: string | null | undefined): string {
  if (severity == null) return 'Not scored';
  return SEVERITY_LABELS[severity] ?? severity;
}

export function vulnSeverityColor(severity: string | null | undefined): BadgeColor {
  return (severity != null && SEVERITY_COLORS[severity]) || 'subtle';
}

export function findingStatusLabel(status: string): string {
  return STATUS_LABELS[status] ?? status;
}

export function matchLabel(match: string): string {
  return MATCH_LABELS[match] ?? match;
}

/** "7.5 (CVSS 3.1)", or '' when the vulnerability has no score. */
export function cvssText(score: number | null | undefined, version: string | null | undefined) {
  if (score == null) return '';
  const shown = score.toFixed(1);
  return version ? `${shown} (CVSS ${version})` : shown;
}

/** The threats column: what CISA says, in a few words. */
export function threatText(threats: Threats | null | undefined): string {
  if (!threats?.exploited_in_wild) return '';
  const parts = ['Exploited in the wild'];
  if (threats.known_ransomware_use) parts.push('ransomware');
  if (threats.due_date) parts.push(`due ${threats.due_date}`);
  return parts.join(', ');
}

export interface MarkForm {
  status: FindingStatus;
  reason: string;
  /** A date (YYYY-MM-DD) from the date input, or ''. */
  expires: string;
}

/**
 * The request body of the mark-as form, or the message that explains what is missing.
 * An expiry date means the end of that day in UTC, and must be in the future.
 */
export function markRequest(
  form: MarkForm,
  now: Date = new Date(),
): { patch: FindingPatch } | { error: string } {
  if (form.status === 'open') {
    return { patch: { status: 'open' } };
  }
  const reason = form.reason.trim();
  if (reason === '') {
    return { error: 'Give a reason: it is shown to everyone who reviews this finding.' };
  }
  if (reason.length > 2000) {
    return { error: 'The reason is longer than 2000 characters.' };
  }
  let expires: string | null = null;
  if (form.expires !== '') {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(form.expires)) {
      return { error: 'The expiry is not a date.' };
    }
    const end = new Date(`${form.expires}T23:59:59Z`);
    if (Number.isNaN(end.getTime())) return { error: 'The expiry is not a date.' };
    if (end.getTime() <= now.getTime()) {
      return { error: 'The expiry is in the past: pick a later day, or none.' };
    }
    expires = end.toISOString();
  }
  return { patch: { status: form.status, reason, expires_at: expires } };
}
