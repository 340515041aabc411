// The original record's fields as lines of a key and a value, for the event's flyout.
// Nested parts (EventData, UserData, attributes) become dotted keys; every value becomes
// text, to be shown as text: it came from the device's log, untrusted.

export interface FieldLine {
  key: string;
  value: string;
}

/** Lines shown at most; a record with more says how many were left out. */
export const MAX_FIELD_LINES = 500;
const MAX_DEPTH = 8;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The fields as lines, in the record's own order; the second value counts the lines cut. */
export function fieldLines(fields: Record<string, unknown>): [FieldLine[], number] {
  const lines: FieldLine[] = [];
  let cut = 0;
  const walk = (value: Record<string, unknown>, prefix: string, depth: number) => {
    for (const [name, inner] of Object.entries(value)) {
      const key = prefix === '' ? name : `${prefix}.${name}`;
      if (isPlainObject(inner) && depth < MAX_DEPTH && Object.keys(inner).length > 0) {
        walk(inner, key, depth + 1);
      } else if (lines.length < MAX_FIELD_LINES) {
        lines.push({ key, value: text(inner) });
      } else {
        cut += 1;
      }
    }
  };
  walk(fields, '', 0);
  return [lines, cut];
}
