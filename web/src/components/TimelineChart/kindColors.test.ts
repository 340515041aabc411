import { webDarkTheme, webLightTheme } from '@fluentui/react-components';
import { describe, expect, it } from 'vitest';

import { KIND_PALETTE, contrast, kindColor } from './kindColors';

describe('kind colours', () => {
  it('stand out from the chart’s surface in the light and the dark theme', () => {
    for (const colour of KIND_PALETTE) {
      expect(contrast(colour, webLightTheme.colorNeutralBackground1)).toBeGreaterThanOrEqual(3);
      expect(contrast(colour, webDarkTheme.colorNeutralBackground1)).toBeGreaterThanOrEqual(3);
    }
  });

  it('give common kinds their own colour and every kind the same colour each time', () => {
    const common = ['process', 'network', 'file', 'registry', 'logon', 'dns'].map(kindColor);
    expect(new Set(common).size).toBe(common.length);
    expect(kindColor('kerberos')).toBe(kindColor('kerberos'));
    expect(KIND_PALETTE).toContain(kindColor('a kind never seen'));
  });

  it('measures contrast as WCAG does', () => {
    expect(contrast('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrast('#777777', '#777777')).toBe(1);
  });
});
