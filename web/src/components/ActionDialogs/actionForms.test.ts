import { describe, expect, it } from 'vitest';

import { commentError, isolateParameters, parseLines, restrictParameters } from './actionForms';

const HASH = 'a'.repeat(64);

describe('parseLines', () => {
  it('keeps one trimmed entry per line, once', () => {
    expect(parseLines(' alice \n\n1001\r\nalice\n')).toEqual(['alice', '1001']);
    expect(parseLines('   ')).toEqual([]);
  });
});

describe('isolateParameters', () => {
  it('sends no allow lists for full isolation, even when some were typed', () => {
    const result = isolateParameters('full', 'alice', 'system.slice/mail.service');

    expect(result.parameters).toEqual({ mode: 'full', allow_users: [], allow_cgroups: [] });
    expect(result.errors).toEqual({});
  });

  it('sends the users and cgroups of selective isolation', () => {
    const result = isolateParameters('selective', 'alice\n1001', 'system.slice/mail.service');

    expect(result.parameters).toEqual({
      mode: 'selective',
      allow_users: ['alice', '1001'],
      allow_cgroups: ['system.slice/mail.service'],
    });
    expect(result.errors).toEqual({});
  });

  it('refuses selective isolation that lets nothing through, and escaping cgroup paths', () => {
    expect(isolateParameters('selective', '', '').errors['allow_users']).toMatch(/needs a user/);
    expect(isolateParameters('selective', '', '/system.slice').errors).toEqual({});
    expect(isolateParameters('selective', '', 'a/../../b').errors['allow_cgroups']).toMatch(/\.\./);
  });

  it('refuses more users than the agent takes', () => {
    const users = Array.from({ length: 65 }, (_, i) => `user${i}`).join('\n');
    expect(isolateParameters('selective', users, '').errors['allow_users']).toBe(
      'At most 64 users; 65 are listed.',
    );
  });
});

describe('restrictParameters', () => {
  it('lower-cases hashes and keeps absolute paths', () => {
    const result = restrictParameters(HASH.toUpperCase(), '/usr/local/bin/tool');

    expect(result.parameters).toEqual({
      allow_sha256: [HASH],
      allow_paths: ['/usr/local/bin/tool'],
    });
    expect(result.errors).toEqual({});
  });

  it('names the entry that is not a hash or not an absolute path', () => {
    const result = restrictParameters(`${HASH}\nnot-a-hash`, 'bin/tool');

    expect(result.errors['allow_sha256']).toContain('“not-a-hash”');
    expect(result.errors['allow_paths']).toContain('“bin/tool”');
  });

  it('sends a scope only when one is given, and refuses a relative one', () => {
    const scoped = restrictParameters('', '', '/srv/apps\n\n/home ');
    expect(scoped.parameters).toEqual({
      allow_sha256: [],
      allow_paths: [],
      scope: ['/srv/apps', '/home'],
    });
    expect(scoped.errors).toEqual({});
    expect(restrictParameters('', '', 'apps').errors['scope']).toContain('“apps”');
  });
});

describe('commentError', () => {
  it('asks for a comment that says something', () => {
    expect(commentError('  ')).toMatch(/Say why/);
    expect(commentError('contain the beacon')).toBeNull();
  });
});
