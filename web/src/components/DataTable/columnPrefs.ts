// Which columns a table shows: each column's default, overridden by the choice the user
// saved for that table (kept server-side in their preferences, so it follows them).

import type { Preferences } from '../../api/types';

export interface ColumnChoiceSpec {
  id: string;
  /** Shown until the user hides it; true unless said otherwise. */
  defaultVisible?: boolean;
  /** Always shown (the column that names the row); the chooser cannot hide it. */
  alwaysVisible?: boolean;
}

/** The ids of the columns to show, in the table's order. */
export function visibleColumnIds(
  columns: readonly ColumnChoiceSpec[],
  saved: Readonly<Record<string, boolean>> | undefined,
): string[] {
  return columns
    .filter((column) => {
      if (column.alwaysVisible === true) return true;
      return saved?.[column.id] ?? column.defaultVisible ?? true;
    })
    .map((column) => column.id);
}

/**
 * The preferences with one column's choice changed. Only choices that differ from the
 * column's default are kept, and only for columns the table still has, so the stored
 * document stays small; other tables' choices are untouched.
 */
export function withColumnChoice(
  preferences: Preferences | null,
  tableId: string,
  columns: readonly ColumnChoiceSpec[],
  columnId: string,
  visible: boolean,
): Preferences {
  const tables = { ...(preferences?.tables ?? {}) };
  const saved = { ...(tables[tableId]?.columns ?? {}), [columnId]: visible };
  const kept: Record<string, boolean> = {};
  for (const column of columns) {
    const choice = saved[column.id];
    if (choice === undefined || column.alwaysVisible === true) continue;
    if (choice !== (column.defaultVisible ?? true)) kept[column.id] = choice;
  }
  if (Object.keys(kept).length === 0) {
    delete tables[tableId];
  } else {
    tables[tableId] = { columns: kept };
  }
  return { tables };
}
