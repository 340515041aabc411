// CSV export of the rows a table shows. Values come from devices and are untrusted: a cell
// that a spreadsheet would read as a formula is prefixed with an apostrophe, so it stays text
// (OWASP, "CSV Injection").

const FORMULA_START = /^[=+\-@\t\r]/;

/** The value, made safe to open in a spreadsheet. */
export function neutralizeCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

function quoteCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** RFC 4180 text: a header line, then one line per row, every cell neutralized. */
export function toCsv(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const lines = [header, ...rows].map((cells) =>
    cells.map((cell) => quoteCell(neutralizeCell(cell))).join(','),
  );
  return `${lines.join('\r\n')}\r\n`;
}

/** "devices-2026-12-04.csv": the table's name and the local date. */
export function csvFileName(label: string, now: Date = new Date()): string {
  const slug = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  const pad = (n: number) => String(n).padStart(2, '0');
  const date = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  return `${slug || 'table'}-${date}.csv`;
}
