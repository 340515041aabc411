// Words for the missing-updates tab, kept apart from the components so they can be tested.
import type { MissingUpdatesPage } from '../../api/types';

function plural(count: number, one: string, many: string): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`;
}

/** "2 updates missing, addressing 74 CVEs, 3 of them exploited", or the Linux equivalent. */
export function updatesSummary(page: MissingUpdatesPage): string {
  if (page.status === 'not_windows') {
    const cves = new Set(page.advisories.flatMap((a) => a.cves)).size;
    if (page.advisories.length === 0) return 'No distribution advisory missing';
    return `${plural(page.advisories.length, 'advisory', 'advisories')} not applied, addressing ${plural(cves, 'CVE', 'CVEs')}`;
  }
  if (page.updates_missing === 0) return 'No security update missing';
  const exploited =
    page.exploited_cves > 0
      ? `, ${page.exploited_cves.toLocaleString('en-US')} of them exploited`
      : '';
  return `${plural(page.updates_missing, 'update', 'updates')} missing, addressing ${plural(page.cves_addressed, 'CVE', 'CVEs')}${exploited}`;
}

/** Debian's tracker page of an advisory, or null for ids it does not know. */
export function advisoryLink(advisory: string): string | null {
  if (/^(DSA|DLA)-\d+(-\d+)?$/.test(advisory)) {
    return `https://security-tracker.debian.org/tracker/${encodeURIComponent(advisory)}`;
  }
  if (/^USN-\d+-\d+$/.test(advisory)) {
    return `https://ubuntu.com/security/notices/${encodeURIComponent(advisory)}`;
  }
  return null;
}

/** Only https links to the update catalog are shown; anything else is not a link. */
export function safeLink(url: string | null): string | null {
  if (url === null) return null;
  try {
    return new URL(url).protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}
