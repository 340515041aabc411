import type { Coverage, CoverageGroup } from '../../api/types';

const SOURCE_NOUNS: Record<string, [string, string]> = {
  dpkg: ['Debian package', 'Debian packages'],
  rpm: ['RPM package', 'RPM packages'],
  pip: ['Python package', 'Python packages'],
  npm: ['npm package', 'npm packages'],
  windows: ['Windows program', 'Windows programs'],
  osquery: ['program', 'programs'],
  other: ['program', 'programs'],
  os: ['operating system', 'operating system'],
};

function itemsText(group: CoverageGroup): string {
  const [one, many] = SOURCE_NOUNS[group.source] ?? [
    `${group.source} item`,
    `${group.source} items`,
  ];
  const count = group.items.toLocaleString('en-US');
  const noun = group.items === 1 ? one : many;
  const suffix = group.matched_by && group.matched_by !== 'CPE' ? ` (${group.matched_by})` : '';
  return group.source === 'os' ? `the ${noun}${suffix}` : `${count} ${noun}${suffix}`;
}

/** One sentence per kind of software: what it was checked against, or why it was not. */
export function coverageLines(coverage: Coverage): { checked: string[]; unchecked: string[] } {
  const checked: string[] = [];
  const unchecked: string[] = [];
  for (const group of coverage.groups) {
    const line = `${itemsText(group)}: ${group.reason}`;
    (group.checked ? checked : unchecked).push(line);
  }
  return { checked, unchecked };
}

/** What an empty list means for this device. */
export function emptyText(coverage: Coverage | null, filtered: boolean): string {
  if (filtered) return 'No vulnerabilities match these filters.';
  if (coverage && !coverage.assessed) {
    return coverage.groups.length === 0
      ? 'Not assessed: no software inventory has been received for this device.'
      : 'Not assessed: no imported feed covers this device’s software, so no vulnerability could be found. Import or update feeds (hostwatch feeds import / update).';
  }
  return 'No known vulnerabilities in the software checked: no imported advisory matches it.';
}

/** The recommendations tab's empty state, which must not read as clean when nothing was checked. */
export function recommendationsEmptyText(coverage: Coverage | null, filtered: boolean): string {
  if (filtered) return 'No recommendations match this filter.';
  if (coverage && !coverage.assessed) {
    return 'Not assessed: no imported feed covers this device’s software, so there is nothing to recommend yet.';
  }
  return 'No security recommendations: no product checked matches a known vulnerability.';
}

/** The missing distribution advisories' empty state: only clean if the distribution's own
 * packages were checked against its advisories. */
export function advisoriesEmptyText(coverage: Coverage | null): string {
  const system = coverage?.groups.filter((g) => g.source === 'dpkg' || g.source === 'rpm') ?? [];
  const unchecked = system.find((g) => !g.checked);
  if (unchecked) {
    return `Not assessed: the distribution’s packages were not checked (${unchecked.reason}).`;
  }
  return 'No distribution advisory is missing for the installed packages.';
}
