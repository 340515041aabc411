import { describe, expect, it } from 'vitest';

import {
  FIRST_PAGE,
  MAX_TRAIL,
  canGoBack,
  currentCursor,
  nextPage,
  previousPage,
  readCursorTrail,
  writeCursorTrail,
} from './cursorPaging';

describe('cursor trail in the address', () => {
  it('reads the first page from an address without a cursor', () => {
    expect(readCursorTrail(new URLSearchParams('tab=timeline'))).toEqual(FIRST_PAGE);
    expect(currentCursor(FIRST_PAGE)).toBeNull();
  });

  it('round-trips a trail and keeps other parameters', () => {
    const trail = nextPage(nextPage(FIRST_PAGE, 'WyIyMDIwIiwxXQ'), 'WyIyMDIxIiwyXQ');
    const params = writeCursorTrail(trail, new URLSearchParams('tab=timeline&page=9'));

    expect(params.toString()).toBe('tab=timeline&page=3&cursor=WyIyMDIwIiwxXQ.WyIyMDIxIiwyXQ');
    expect(readCursorTrail(params)).toEqual(trail);
    expect(currentCursor(trail)).toBe('WyIyMDIxIiwyXQ');
  });

  it('writes nothing for the first page', () => {
    const params = writeCursorTrail(FIRST_PAGE, new URLSearchParams('page=4&cursor=abc'));
    expect(params.toString()).toBe('');
  });

  it('ignores cursors that are not base64url text, and page numbers that do not fit', () => {
    expect(readCursorTrail(new URLSearchParams('cursor=<script>'))).toEqual(FIRST_PAGE);
    expect(readCursorTrail(new URLSearchParams('cursor=a.<b>.c&page=1'))).toEqual({
      page: 3,
      cursors: ['a', 'c'],
    });
    expect(readCursorTrail(new URLSearchParams('cursor=a&page=-3')).page).toBe(2);
  });
});

describe('moving between keyset pages', () => {
  it('goes forward and back', () => {
    const second = nextPage(FIRST_PAGE, 'c2');
    const third = nextPage(second, 'c3');

    expect(third).toEqual({ page: 3, cursors: ['c2', 'c3'] });
    expect(previousPage(third)).toEqual(second);
    expect(previousPage(second)).toEqual(FIRST_PAGE);
    expect(canGoBack(FIRST_PAGE)).toBe(false);
    expect(previousPage(FIRST_PAGE)).toEqual(FIRST_PAGE);
  });

  it('keeps the last pages’ cursors only, and then cannot go back past the oldest', () => {
    let trail = FIRST_PAGE;
    for (let page = 2; page <= MAX_TRAIL + 11; page += 1) trail = nextPage(trail, `c${page}`);

    expect(trail.page).toBe(MAX_TRAIL + 11);
    expect(trail.cursors).toHaveLength(MAX_TRAIL);
    expect(trail.cursors[0]).toBe('c12');
    for (let step = 1; step < MAX_TRAIL; step += 1) trail = previousPage(trail);
    expect(trail).toEqual({ page: 12, cursors: ['c12'] });
    expect(canGoBack(trail)).toBe(false);
    expect(previousPage(trail)).toBe(trail);
  });

  it('reads a truncated trail back with its page number', () => {
    const params = new URLSearchParams('page=70&cursor=x.y');
    const trail = readCursorTrail(params);

    expect(trail).toEqual({ page: 70, cursors: ['x', 'y'] });
    expect(previousPage(trail)).toEqual({ page: 69, cursors: ['x'] });
    expect(canGoBack(previousPage(trail))).toBe(false);
  });
});
