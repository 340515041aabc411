// What the profile says in place of data a device lacks. Each note tells why: the data is
// not collected for this kind of device, not applicable to it, or not there yet.
import type { DeviceDetail } from '../../api/types';

type NoteDevice = Pick<DeviceDetail, 'known_from' | 'agent' | 'inventory'>;

export const NOT_COMPUTED = 'Not computed yet';

/** For each fact only the agent reports (kernel, hardware, boot time, sessions). */
export function agentFactNote(device: NoteDevice): string {
  return device.agent === null ? 'Not collected: no agent' : 'Not reported yet';
}

/** Said once above those facts when the device has no agent; null when it has one. */
export function noAgentExplanation(device: NoteDevice): string | null {
  if (device.agent !== null) return null;
  const from =
    device.known_from === 'directory' || device.known_from === null
      ? 'the directory'
      : device.known_from === 'both'
        ? 'imported logs and the directory'
        : 'imported logs';
  return `No Hostwatch agent runs on this device, so its kernel, hardware, boot time and sessions are not collected. It is known from ${from}.`;
}

/** For the directory section when it holds nothing. */
export function directoryNote(device: NoteDevice): string {
  if (device.known_from === 'directory' || device.known_from === 'both') {
    return 'No directory data yet: the directory has not described this device';
  }
  return 'Not applicable: this device is not known from the directory';
}

/** For the logged-on users section when it holds nothing. */
export function usersNote(device: NoteDevice & Pick<DeviceDetail, 'logged_on_users'>): string {
  if (device.agent === null) return 'Not collected: sessions are reported by the agent';
  if (device.logged_on_users === null || device.inventory.collected_at === null) {
    return 'Not reported yet: the agent has not sent an inventory';
  }
  return 'None: no one was logged on when the agent last looked';
}

/** For the software tab when the table is empty without filters. */
export function softwareNote(device: NoteDevice): string {
  if (device.agent === null) {
    return 'Not collected: software inventory comes from the Hostwatch agent or an osquery import, and this device has neither.';
  }
  if (device.inventory.collected_at === null) {
    return 'No inventory yet: the agent sends one soon after it starts, then once a day.';
  }
  return 'The latest inventory lists no software.';
}
