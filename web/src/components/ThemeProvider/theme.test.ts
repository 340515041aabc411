import { describe, expect, it } from 'vitest';

import { initialTheme, otherTheme } from './theme';

describe('initialTheme', () => {
  it('keeps the stored choice over the system preference', () => {
    expect(initialTheme('light', true)).toBe('light');
    expect(initialTheme('dark', false)).toBe('dark');
  });

  it('follows the system when nothing valid is stored', () => {
    expect(initialTheme(null, true)).toBe('dark');
    expect(initialTheme('purple', false)).toBe('light');
  });

  it('toggles between the two', () => {
    expect(otherTheme('light')).toBe('dark');
    expect(otherTheme('dark')).toBe('light');
  });
});
