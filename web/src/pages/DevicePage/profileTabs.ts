// The machine profile's tabs. Endpoint tabs need the device's endpoint (its agent or
// imported logs): a device known only from the directory does not show them. Tabs that are
// not built yet are absent, not placeholders.
import type { KnownFrom } from '../../api/types';

export type ProfileTabId =
  | 'overview'
  | 'alerts'
  | 'timeline'
  | 'recommendations'
  | 'software'
  | 'vulnerabilities'
  | 'updates'
  | 'actions';

export interface ProfileTab {
  id: ProfileTabId;
  label: string;
  endpointOnly: boolean;
}

export const PROFILE_TABS: readonly ProfileTab[] = [
  { id: 'overview', label: 'Overview', endpointOnly: false },
  // Directory-only devices can have identity alerts, so every device has the tab.
  { id: 'alerts', label: 'Alerts', endpointOnly: false },
  { id: 'timeline', label: 'Timeline', endpointOnly: true },
  { id: 'recommendations', label: 'Security recommendations', endpointOnly: true },
  { id: 'software', label: 'Software inventory', endpointOnly: true },
  { id: 'vulnerabilities', label: 'Discovered vulnerabilities', endpointOnly: true },
  { id: 'updates', label: 'Missing updates', endpointOnly: true },
  { id: 'actions', label: 'Action center', endpointOnly: true },
];

export const DEFAULT_TAB: ProfileTabId = 'overview';

export function tabsFor(knownFrom: KnownFrom | null): ProfileTab[] {
  const endpoint = knownFrom === 'endpoint' || knownFrom === 'both';
  return PROFILE_TABS.filter((tab) => endpoint || !tab.endpointOnly);
}

/** The tab the address names, if this device has it; else the overview. */
export function readTab(params: URLSearchParams, tabs: readonly ProfileTab[]): ProfileTabId {
  const wanted = params.get('tab');
  return tabs.find((tab) => tab.id === wanted)?.id ?? DEFAULT_TAB;
}

/** The address of a tab: its own parameters only, since the last tab's filters are not its. */
export function tabParams(tab: ProfileTabId): URLSearchParams {
  return new URLSearchParams(tab === DEFAULT_TAB ? '' : { tab });
}
