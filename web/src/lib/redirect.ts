// Where to go after signing in. Only paths inside this app are followed, so a crafted
// link such as /login?next=//evil.example cannot send the user to another site.

export const DEFAULT_PAGE = '/devices';

export function safeNextPath(next: string | null | undefined): string {
  if (next == null || next === '') {
    return DEFAULT_PAGE;
  }
  if (!next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) {
    return DEFAULT_PAGE;
  }
  // Control characters could be read as a scheme or host by the URL parser.
  if (/[\u0000-\u001f\u007f]/.test(next)) {
    return DEFAULT_PAGE;
  }
  if (next === '/login' || next.startsWith('/login?') || next.startsWith('/login#')) {
    return DEFAULT_PAGE;
  }
  return next;
}

/** The login page address that brings the user back to `path` afterwards. */
export function loginPathFor(path: string): string {
  const next = safeNextPath(path);
  return next === DEFAULT_PAGE ? '/login' : `/login?next=${encodeURIComponent(next)}`;
}
