// Keyset pages, for lists the server pages with a cursor and counts no total (the timeline).
// The server answers each page with the cursor of the next one; going back needs the cursors
// of the pages before. They are kept in the address as a trail, so a copied link opens the
// same page, and both Previous and the browser's Back step back through it.

/**
 * Cursors kept in the address; past this many pages the oldest are dropped, so addresses
 * stay short enough to paste.
 * Limitation: 50 pages past the first, Previous stops at the oldest page whose cursor is
 * kept; First still goes back to the start.
 */
export const MAX_TRAIL = 50;

const CURSOR = 'cursor';
const PAGE = 'page';
// Cursors are base64url text, which never holds a '.'.
const SEPARATOR = '.';
const CURSOR_TEXT = /^[A-Za-z0-9_-]{1,1024}$/;

export interface CursorTrail {
  /** 1-based number of the page shown. */
  page: number;
  /**
   * The cursors that asked for the last pages up to this one, oldest first: the last one
   * asks for this page. Empty on the first page, which needs none.
   */
  cursors: readonly string[];
}

export const FIRST_PAGE: CursorTrail = { page: 1, cursors: [] };

function readPositiveInt(text: string | null): number | null {
  if (text === null || !/^\d{1,7}$/.test(text)) return null;
  const value = Number(text);
  return value >= 1 ? value : null;
}

export function readCursorTrail(params: URLSearchParams): CursorTrail {
  const cursors = (params.get(CURSOR) ?? '')
    .split(SEPARATOR)
    .filter((cursor) => CURSOR_TEXT.test(cursor))
    .slice(-MAX_TRAIL);
  if (cursors.length === 0) return FIRST_PAGE;
  // Each cursor is one page past the first; more pages may lie before the oldest one kept.
  const page = Math.max(readPositiveInt(params.get(PAGE)) ?? 0, cursors.length + 1);
  return { page, cursors };
}

/** The address with the trail written in (other parameters kept); nothing for page 1. */
export function writeCursorTrail(
  trail: CursorTrail,
  base: URLSearchParams = new URLSearchParams(),
): URLSearchParams {
  const params = new URLSearchParams(base);
  params.delete(CURSOR);
  params.delete(PAGE);
  if (trail.cursors.length > 0) {
    params.set(PAGE, String(trail.page));
    params.set(CURSOR, trail.cursors.join(SEPARATOR));
  }
  return params;
}

/** The cursor to send for the page shown; null for the first page. */
export function currentCursor(trail: CursorTrail): string | null {
  return trail.cursors.at(-1) ?? null;
}

export function nextPage(trail: CursorTrail, nextCursor: string): CursorTrail {
  return { page: trail.page + 1, cursors: [...trail.cursors, nextCursor].slice(-MAX_TRAIL) };
}

/** Whether the page before this one can be asked for: its cursor is still in the trail. */
export function canGoBack(trail: CursorTrail): boolean {
  return trail.page === 2 || (trail.page > 2 && trail.cursors.length > 1);
}

export function previousPage(trail: CursorTrail): CursorTrail {
  if (!canGoBack(trail)) return trail;
  const cursors = trail.cursors.slice(0, -1);
  return cursors.length === 0 ? FIRST_PAGE : { page: trail.page - 1, cursors };
}
