import { describe, expect, it } from 'vitest';

import { loginPathFor, safeNextPath } from './redirect';

describe('safeNextPath', () => {
  it('follows paths inside the app', () => {
    expect(safeNextPath('/devices/42?tab=overview')).toBe('/devices/42?tab=overview');
  });

  it('falls back to the device list for anything else', () => {
    expect(safeNextPath(null)).toBe('/devices');
    expect(safeNextPath('https://evil.example/')).toBe('/devices');
    expect(safeNextPath('//evil.example/')).toBe('/devices');
    expect(safeNextPath('/\\evil.example/')).toBe('/devices');
    expect(safeNextPath('/\t/evil.example/')).toBe('/devices');
    expect(safeNextPath('/login?next=/x')).toBe('/devices');
  });
});

describe('loginPathFor', () => {
  it('carries the page to come back to', () => {
    expect(loginPathFor('/devices/a b')).toBe('/login?next=%2Fdevices%2Fa%20b');
    expect(loginPathFor('/devices')).toBe('/login');
  });
});
