// An event's parts as plain text: for table cells' tooltips, CSV and the flyout.
import type { EventTarget, TimelineItem } from '../../api/types';
import { formatUtcTime, parseApiTime } from '../../lib/format';

/** "cmd.exe" from "C:\Windows\System32\cmd.exe" (or a Unix path). */
export function imageName(path: string | null | undefined): string | null {
  if (path == null || path === '') return null;
  return path.replace(/\//g, '\\').split('\\').pop() || path;
}

/** The target in a line of text: a file, a registry key and value, an address or a name. */
export function targetText(target: EventTarget | null | undefined): string {
  if (target == null) return '';
  switch (target.type) {
    case 'file':
      return target.file ?? '';
    case 'registry':
      return [target.registry_key, target.registry_value].filter(Boolean).join(' \\ ');
    case 'network': {
      const remote = `${target.remote_address ?? '?'}:${target.remote_port ?? '?'}`;
      return target.dns_name ? `${remote} (${target.dns_name})` : remote;
    }
    case 'dns':
      return target.dns_name ?? '';
  }
}

export function timeText(value: string | null | undefined): string {
  const date = value == null ? null : parseApiTime(value);
  return date === null ? '' : formatUtcTime(date);
}

/** Process and parent as one line, for CSV. */
export function entitiesText(item: TimelineItem): string {
  const parts: string[] = [];
  if (item.process) {
    parts.push([item.process.image, item.process.command_line].filter(Boolean).join(' '));
  }
  if (item.parent) {
    const parent = [item.parent.image, item.parent.command_line].filter(Boolean).join(' ');
    if (parent !== '') parts.push(`parent: ${parent}`);
  }
  return parts.join('; ');
}
