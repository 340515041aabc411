// The forms of the containment actions, turned into the parameters the API takes. Pure, so
// unit tested. The server checks them again (hostwatch.protocol) and names any bad field.
import type { IsolateParameters, RestrictParameters } from '../../api/types';

/** Limits of hostwatch.protocol's IsolateParameters and RestrictParameters. */
export const LIMITS = {
  users: 64,
  cgroups: 64,
  sha256: 10_000,
  paths: 1_000,
  scope: 64,
} as const;

const SHA256 = /^[0-9a-f]{64}$/;

/** One entry per line; blank lines and surrounding spaces dropped, duplicates once. */
export function parseLines(text: string): string[] {
  const seen = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const value = line.trim();
    if (value !== '') seen.add(value);
  }
  return [...seen];
}

export interface FormResult<T> {
  parameters: T;
  /** Problems by field name; empty when the form can be sent. */
  errors: Record<string, string>;
}

function tooMany(values: string[], limit: number, what: string): string | null {
  return values.length > limit ? `At most ${limit} ${what}; ${values.length} are listed.` : null;
}

export function isolateParameters(
  mode: 'full' | 'selective',
  usersText: string,
  cgroupsText: string,
): FormResult<IsolateParameters> {
  // Full isolation lets nothing else through: lists typed before switching are not sent.
  const users = mode === 'selective' ? parseLines(usersText) : [];
  const cgroups = mode === 'selective' ? parseLines(cgroupsText) : [];
  const errors: Record<string, string> = {};
  const manyUsers = tooMany(users, LIMITS.users, 'users');
  if (manyUsers) errors['allow_users'] = manyUsers;
  const manyCgroups = tooMany(cgroups, LIMITS.cgroups, 'cgroups');
  if (manyCgroups) errors['allow_cgroups'] = manyCgroups;
  if (mode === 'selective' && users.length === 0 && cgroups.length === 0) {
    errors['allow_users'] = 'Selective isolation needs a user or a cgroup to let through.';
  }
  // The agent refuses these too (hostwatch.agent.isolation); saying so here saves a round trip.
  const badCgroup = cgroups.find((path) =>
    path.split('/').some((part) => part === '.' || part === '..'),
  );
  if (badCgroup !== undefined) {
    errors['allow_cgroups'] =
      `“${badCgroup}”: give a path under the cgroup root, without “.” or “..”.`;
  }
  return { parameters: { mode, allow_users: users, allow_cgroups: cgroups }, errors };
}

export function restrictParameters(
  sha256Text: string,
  pathsText: string,
  scopeText = '',
): FormResult<RestrictParameters> {
  const hashes = parseLines(sha256Text).map((hash) => hash.toLowerCase());
  const paths = parseLines(pathsText);
  const scope = parseLines(scopeText);
  const errors: Record<string, string> = {};
  const bad = hashes.find((hash) => !SHA256.test(hash));
  if (bad !== undefined) {
    errors['allow_sha256'] = `“${bad.slice(0, 80)}” is not a SHA-256 (64 hexadecimal digits).`;
  }
  const manyHashes = tooMany(hashes, LIMITS.sha256, 'hashes');
  if (manyHashes) errors['allow_sha256'] = manyHashes;
  const relative = paths.find((path) => !path.startsWith('/'));
  if (relative !== undefined) {
    errors['allow_paths'] = `“${relative.slice(0, 80)}” is not an absolute path.`;
  }
  const manyPaths = tooMany(paths, LIMITS.paths, 'paths');
  if (manyPaths) errors['allow_paths'] = manyPaths;
  const relativeScope = scope.find((path) => !path.startsWith('/'));
  if (relativeScope !== undefined) {
    errors['scope'] = `“${relativeScope.slice(0, 80)}” is not an absolute path.`;
  }
  const manyScope = tooMany(scope, LIMITS.scope, 'places');
  if (manyScope) errors['scope'] = manyScope;
  const parameters: RestrictParameters = { allow_sha256: hashes, allow_paths: paths };
  // No scope sent means every local filesystem, as the dialog says.
  if (scope.length > 0) parameters.scope = scope;
  return { parameters, errors };
}

/** The comment every containment action needs, trimmed; an error when it is blank. */
export function commentError(comment: string): string | null {
  return comment.trim() === ''
    ? 'Say why: the comment is kept with the action and in the audit log.'
    : null;
}
