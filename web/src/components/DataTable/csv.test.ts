import { describe, expect, it } from 'vitest';

import { csvFileName, neutralizeCell, toCsv } from './csv';

describe('neutralizeCell', () => {
  it('prefixes every formula-starting character with an apostrophe', () => {
    for (const start of ['=', '+', '-', '@', '\t', '\r']) {
      expect(neutralizeCell(`${start}cmd|' /C calc'!A0`)).toBe(`'${start}cmd|' /C calc'!A0`);
    }
  });

  it('leaves ordinary text alone', () => {
    expect(neutralizeCell('web01')).toBe('web01');
    expect(neutralizeCell('a=b')).toBe('a=b');
    expect(neutralizeCell('')).toBe('');
  });
});

describe('toCsv', () => {
  it('quotes commas, quotes and line breaks', () => {
    const text = toCsv(['Name', 'Note'], [['a,b', 'say "hi"\nthen go']]);
    expect(text).toBe('Name,Note\r\n"a,b","say ""hi""\nthen go"\r\n');
  });

  it('neutralizes before quoting, so a quoted formula stays text', () => {
    const text = toCsv(['Name'], [['=HYPERLINK("http://x","y")'], ['-1']]);
    expect(text).toBe('Name\r\n"\'=HYPERLINK(""http://x"",""y"")"\r\n\'-1\r\n');
  });

  it('writes markup as plain text', () => {
    expect(toCsv(['Name'], [['<img src=x onerror=alert(1)>']])).toBe(
      'Name\r\n<img src=x onerror=alert(1)>\r\n',
    );
  });
});

describe('csvFileName', () => {
  it('names the file after the table and the date', () => {
    expect(csvFileName('Software inventory', new Date(2026, 11, 4))).toBe(
      'software-inventory-2026-12-04.csv',
    );
    expect(csvFileName('***', new Date(2026, 0, 9))).toBe('table-2026-01-09.csv');
  });
});
