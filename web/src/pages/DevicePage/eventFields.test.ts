import { describe, expect, it } from 'vitest';

import { MAX_FIELD_LINES, fieldLines } from './eventFields';

describe('fieldLines', () => {
  it('flattens nested parts into dotted keys and turns values into text', () => {
    const [lines, cut] = fieldLines({
      channel: 'Microsoft-Windows-Sysmon/Operational',
      event_record_id: 4411,
      EventData: {
        CommandLine: '<img src=x onerror=alert(1)>',
        Hashes: null,
        Flags: [1, 'two'],
        Empty: {},
      },
      nul_removed: true,
    });

    expect(cut).toBe(0);
    expect(lines).toEqual([
      { key: 'channel', value: 'Microsoft-Windows-Sysmon/Operational' },
      { key: 'event_record_id', value: '4411' },
      { key: 'EventData.CommandLine', value: '<img src=x onerror=alert(1)>' },
      { key: 'EventData.Hashes', value: 'null' },
      { key: 'EventData.Flags', value: '[1,"two"]' },
      { key: 'EventData.Empty', value: '{}' },
      { key: 'nul_removed', value: 'true' },
    ]);
  });

  it('stops at a bound and counts what it left out', () => {
    const many = Object.fromEntries(
      Array.from({ length: MAX_FIELD_LINES + 3 }, (_, i) => [`f${i}`, i]),
    );
    const [lines, cut] = fieldLines(many);
    expect(lines).toHaveLength(MAX_FIELD_LINES);
    expect(cut).toBe(3);
  });

  it('writes very deep parts as JSON text', () => {
    let deep: Record<string, unknown> = { leaf: 'x' };
    for (let i = 0; i < 10; i += 1) deep = { d: deep };
    const [lines] = fieldLines(deep);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.key.split('.')).toHaveLength(9);
    expect(lines[0]?.value).toContain('"leaf":"x"');
  });
});
