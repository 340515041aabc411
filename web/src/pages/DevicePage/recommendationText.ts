// Words for recommendations and the exposure score: pure functions, tested on their own.
import type {
  ExposureDriver,
  ExposureInfo,
  RecommendationPatch,
  RecommendationStatus,
} from '../../api/types';

export const RECOMMENDATION_STATUSES: readonly RecommendationStatus[] = [
  'active',
  'exception',
  'resolved',
];

const STATUS_LABELS: Record<RecommendationStatus, string> = {
  active: 'Active',
  exception: 'Exception',
  resolved: 'Resolved',
};

export function recommendationStatusLabel(status: string): string {
  return STATUS_LABELS[status as RecommendationStatus] ?? status;
}

/** "Exploited, ransomware" from the threats a recommendation addresses; "" when none. */
export function threatText(threats: readonly string[] | null | undefined): string {
  const words: Record<string, string> = {
    exploited: 'exploited',
    ransomware: 'known ransomware use',
  };
  const text = (threats ?? []).map((threat) => words[threat] ?? threat).join(', ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** "-20 points" for an expected exposure reduction; "None" when applying it changes nothing. */
export function reductionText(points: number | null | undefined): string {
  if (points == null || points <= 0) return 'None';
  return `-${points} ${points === 1 ? 'point' : 'points'}`;
}

export function cvssText(score: number | null | undefined): string {
  return score == null ? 'No CVSS' : score.toFixed(1);
}

/** One finding that drives the score: what, where, and why it weighs. */
export function driverText(driver: ExposureDriver): string {
  const why = [`CVSS ${driver.cvss == null ? 'unknown' : driver.cvss.toFixed(1)}`];
  if (driver.exploited) why.push('exploited');
  if (driver.ransomware) why.push('ransomware');
  const version = driver.version ? ` ${driver.version}` : '';
  return `${driver.vulnerability} in ${driver.software}${version} (${why.join(', ')})`;
}

/** "97 of 100, from 2 findings (1 exploited)"; what is left out is said too. */
export function exposureSummary(info: ExposureInfo): string {
  const findings = `${info.counted} ${info.counted === 1 ? 'finding' : 'findings'}`;
  const parts = [`${info.score} of 100, from ${findings}`];
  if (info.exploited > 0) parts[0] += ` (${info.exploited} exploited)`;
  if (info.excepted > 0) parts.push(`${info.excepted} under an exception not counted`);
  if (info.unknown > 0) parts.push(`${info.unknown} of unknown version not counted`);
  return parts.join('; ');
}

/**
 * The body of an exception, or why it can not be sent: the server wants a justification,
 * and an expiry, if any, in the future. `expiry` is a date (YYYY-MM-DD) from a date input,
 * taken as the end of that day in UTC.
 */
export function exceptionPatch(
  justification: string,
  expiry: string,
  now: Date,
): { patch: RecommendationPatch } | { error: string } {
  const reason = justification.trim();
  if (reason === '') return { error: 'Give a justification for the exception.' };
  if (expiry === '') return { patch: { status: 'exception', justification: reason } };
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(expiry);
  if (match === null) return { error: 'The expiry is not a date.' };
  const end = new Date(`${expiry}T23:59:59Z`);
  if (Number.isNaN(end.getTime())) return { error: 'The expiry is not a date.' };
  if (end.getTime() <= now.getTime()) return { error: 'The expiry must be in the future.' };
  return { patch: { status: 'exception', justification: reason, expires_at: end.toISOString() } };
}
