import { describe, expect, it } from 'vitest';

import type { EventTarget } from '../../api/types';
import { entitiesText, imageName, targetText, timeText } from './eventText';

const EMPTY_TARGET = {
  file: null,
  registry_key: null,
  registry_value: null,
  remote_address: null,
  remote_port: null,
  local_address: null,
  local_port: null,
  dns_name: null,
};

function target(values: Partial<EventTarget>): EventTarget {
  return { type: 'file', ...EMPTY_TARGET, ...values };
}

describe('event text', () => {
  it('names an image by its file name', () => {
    expect(imageName('C:\\Windows\\System32\\cmd.exe')).toBe('cmd.exe');
    expect(imageName('/usr/bin/bash')).toBe('bash');
    expect(imageName('')).toBeNull();
    expect(imageName(null)).toBeNull();
  });

  it('writes each kind of target in a line', () => {
    expect(targetText(target({ file: 'C:\\Temp\\a.dll' }))).toBe('C:\\Temp\\a.dll');
    expect(
      targetText(target({ type: 'registry', registry_key: 'HKLM\\Run', registry_value: 'evil' })),
    ).toBe('HKLM\\Run \\ evil');
    expect(
      targetText(target({ type: 'network', remote_address: '10.0.0.9', remote_port: 443 })),
    ).toBe('10.0.0.9:443');
    expect(targetText(target({ type: 'dns', dns_name: 'example.org' }))).toBe('example.org');
    expect(targetText(null)).toBe('');
  });

  it('writes process and parent, and times in UTC, for CSV', () => {
    const item = {
      process: { image: 'C:\\a.exe', command_line: 'a.exe -x', pid: 1, guid: null, sha256: null },
      parent: { image: 'C:\\p.exe', command_line: null, pid: 2, guid: null },
    };
    expect(entitiesText(item)).toBe('C:\\a.exe a.exe -x; parent: C:\\p.exe');
    expect(entitiesText({})).toBe('');
    expect(timeText('2020-10-23T21:58:25.333685Z')).toBe('2020-10-23 21:58:25 UTC');
    expect(timeText(null)).toBe('');
  });
});
