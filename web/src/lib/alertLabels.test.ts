import { describe, expect, it } from 'vitest';

import {
  alertStatusLabel,
  determinationLabel,
  safeLink,
  severityColor,
  severityLabel,
} from './alertLabels';

describe('safeLink', () => {
  it('links http and https addresses', () => {
    expect(safeLink('https://attack.mitre.org/techniques/T1033/')).toBe(
      'https://attack.mitre.org/techniques/T1033/',
    );
    expect(safeLink(' http://example.org/a b ')).toBe('http://example.org/a%20b');
  });

  it('refuses scripts, data and relative addresses', () => {
    expect(safeLink('javascript:alert(1)')).toBeNull();
    expect(safeLink('JaVaScRiPt:alert(1)')).toBeNull();
    expect(safeLink('data:text/html,<script>alert(1)</script>')).toBeNull();
    expect(safeLink('/api/alerts')).toBeNull();
    expect(safeLink('see the vendor advisory')).toBeNull();
  });
});

describe('alert labels', () => {
  it('names known codes and keeps unknown ones', () => {
    expect(severityLabel('high')).toBe('High');
    expect(severityColor('critical')).toBe('severe');
    expect(severityColor('catastrophic')).toBe('subtle');
    expect(alertStatusLabel('in_progress')).toBe('In progress');
    expect(alertStatusLabel('archived')).toBe('archived');
    expect(determinationLabel('line_of_business_application')).toBe('Line of business application');
  });
});
