import { describe, expect, it } from 'vitest';

import {
  agentFactNote,
  directoryNote,
  noAgentExplanation,
  softwareNote,
  usersNote,
} from './deviceNotes';

const agent = {
  enrolled_at: '2026-12-01T00:00:00Z',
  last_heartbeat: null,
  version: '1',
  revoked: false,
  status: null,
};
const collected = { collected_at: '2026-12-01T00:00:00Z', software_count: 3 };
const notCollected = { collected_at: null, software_count: 0 };

describe('device notes', () => {
  it('say agent facts are not collected where there is no agent, and why once', () => {
    const fromDirectory = {
      known_from: 'directory' as const,
      agent: null,
      inventory: notCollected,
    };
    const fromLogs = { known_from: 'endpoint' as const, agent: null, inventory: notCollected };
    const withAgent = { known_from: 'endpoint' as const, agent, inventory: notCollected };
    expect(agentFactNote(fromDirectory)).toBe('Not collected: no agent');
    expect(agentFactNote(withAgent)).toBe('Not reported yet');
    expect(noAgentExplanation(fromDirectory)).toMatch(/known from the directory\.$/);
    expect(noAgentExplanation(fromLogs)).toMatch(/known from imported logs\.$/);
    expect(noAgentExplanation(withAgent)).toBeNull();
  });

  it('tell not applicable from not there yet for directory data', () => {
    expect(directoryNote({ known_from: 'endpoint', agent, inventory: collected })).toMatch(
      /^Not applicable/,
    );
    expect(directoryNote({ known_from: 'both', agent, inventory: collected })).toMatch(
      /^No directory data yet/,
    );
  });

  it('tell an empty session list from one not reported', () => {
    const base = { known_from: 'endpoint' as const, agent };
    expect(usersNote({ ...base, inventory: notCollected, logged_on_users: null })).toMatch(
      /^Not reported yet/,
    );
    expect(usersNote({ ...base, inventory: collected, logged_on_users: [] })).toMatch(/^None/);
  });

  it('explain an empty software inventory', () => {
    expect(softwareNote({ known_from: 'endpoint', agent: null, inventory: notCollected })).toMatch(
      /^Not collected/,
    );
    expect(softwareNote({ known_from: 'endpoint', agent, inventory: notCollected })).toMatch(
      /^No inventory yet/,
    );
    expect(softwareNote({ known_from: 'both', agent, inventory: collected })).toMatch(
      /lists no software/,
    );
  });
});
