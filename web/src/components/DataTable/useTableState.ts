import { useCallback, useMemo } from 'react';
import { useSearchParams } from 'react-router';

import { changeTableState, readTableState, writeTableState } from './tableState';
import type { TableChange, TableSpec, TableState } from './tableState';

export type UpdateTable = (change: TableChange, options?: { replace?: boolean }) => void;

/**
 * A table's state, read from and written to the address. Each change is a history entry
 * (so Back undoes it) unless `replace` is asked for, as typing in a search box does.
 */
export function useTableState(spec: TableSpec): [TableState, UpdateTable] {
  const [params, setParams] = useSearchParams();
  const key = params.toString();
  // Parsed once per address, so effects that depend on the state do not rerun each render.
  const state = useMemo(() => readTableState(new URLSearchParams(key), spec), [key, spec]);
  const update = useCallback<UpdateTable>(
    (change, options) => {
      setParams(
        (current) =>
          writeTableState(changeTableState(readTableState(current, spec), change), spec, current),
        { replace: options?.replace ?? false },
      );
    },
    [setParams, spec],
  );
  return [state, update];
}
