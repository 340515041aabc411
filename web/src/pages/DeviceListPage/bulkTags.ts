// What a bulk tag change did to each selected device, in words. The server answers one
// result per device; a device it did not mention is said so rather than assumed changed.
import type { BulkTagResult, DeviceSummary } from '../../api/types';

export type BulkMode = 'add' | 'remove';

export interface BulkOutcome {
  device: Pick<DeviceSummary, 'id' | 'name'>;
  kind: 'changed' | 'unchanged' | 'failed';
  text: string;
}

export function bulkOutcomes(
  devices: Pick<DeviceSummary, 'id' | 'name'>[],
  results: BulkTagResult[],
  mode: BulkMode,
  tag: string,
): BulkOutcome[] {
  const byId = new Map(results.map((result) => [result.device_id, result]));
  return devices.map((device) => {
    const result = byId.get(device.id);
    if (result === undefined) {
      return { device, kind: 'failed', text: 'the server did not report on this device' };
    }
    if (result.error !== null) return { device, kind: 'failed', text: result.error };
    const changed = mode === 'add' ? result.added : result.removed;
    if (changed.length > 0) {
      return {
        device,
        kind: 'changed',
        text: `${mode === 'add' ? 'tagged' : 'untagged'} “${tag}”`,
      };
    }
    return {
      device,
      kind: 'unchanged',
      text: mode === 'add' ? `already tagged “${tag}”` : `had no tag “${tag}”`,
    };
  });
}
