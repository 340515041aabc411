import { describe, expect, it } from 'vitest';

import type { HealthState } from '../api/types';
import {
  logonTypeLabel,
  healthColor,
  healthLabel,
  knownFromLabel,
  levelColor,
  levelLabel,
  osLabel,
  softwareSourceLabel,
  sourceLabel,
} from './labels';

describe('healthLabel', () => {
  it('names each health state', () => {
    expect(healthLabel('active')).toBe('Active');
    expect(healthLabel('inactive')).toBe('Inactive');
    expect(healthLabel('misconfigured')).toBe('Misconfigured');
    expect(healthLabel('degraded')).toBe('Degraded');
  });

  it('says Unknown for a missing state and keeps a code it does not know', () => {
    expect(healthLabel(null)).toBe('Unknown');
    expect(healthLabel('quarantined' as HealthState)).toBe('quarantined');
    expect(healthColor('quarantined' as HealthState)).toBe('subtle');
  });

  it('is not fooled by inherited property names', () => {
    expect(healthLabel('constructor' as HealthState)).toBe('constructor');
  });
});

describe('levelLabel', () => {
  it('says a missing level is not computed yet, with text and not colour alone', () => {
    expect(levelLabel(null)).toBe('Not assessed');
    expect(levelColor(null)).toBe('subtle');
  });

  it('names the levels', () => {
    expect(levelLabel('none')).toBe('None');
    expect(levelLabel('high')).toBe('High');
    expect(levelColor('high')).toBe('danger');
  });
});

describe('sourceLabel', () => {
  it('names the sources', () => {
    expect(sourceLabel('endpoint_logs')).toBe('Endpoint logs');
    expect(sourceLabel('directory')).toBe('Directory');
    expect(sourceLabel('osquery')).toBe('osquery');
  });
});

describe('knownFromLabel', () => {
  it('says where a device is known from', () => {
    expect(knownFromLabel('both')).toBe('Endpoint and directory');
    expect(knownFromLabel('directory')).toBe('Directory');
    expect(knownFromLabel(null)).toBe('Unknown');
  });
});

describe('softwareSourceLabel', () => {
  it('names package managers and keeps codes it does not know', () => {
    expect(softwareSourceLabel('dpkg')).toBe('Debian package (dpkg)');
    expect(softwareSourceLabel('brew')).toBe('brew');
  });
});

describe('osLabel', () => {
  it('joins name and version once', () => {
    expect(osLabel({ os_name: 'Ubuntu', os_version: '24.04' })).toBe('Ubuntu 24.04');
    expect(osLabel({ os_name: 'Debian GNU/Linux 12', os_version: '12' })).toBe(
      'Debian GNU/Linux 12',
    );
  });

  it('falls back to the family, then to null', () => {
    expect(osLabel({ os_family: 'windows', os_name: null, os_version: null })).toBe('windows');
    expect(osLabel({ os_name: '  ', os_family: null })).toBeNull();
  });
});

describe('logonTypeLabel', () => {
  it('names the logon types Windows reports and keeps the number of others', () => {
    expect(logonTypeLabel(2)).toBe('logon type 2 (interactive)');
    expect(logonTypeLabel(10)).toBe('logon type 10 (remote interactive)');
    expect(logonTypeLabel(42)).toBe('logon type 42');
  });
});
