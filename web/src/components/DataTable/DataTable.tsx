import {
  Body1,
  Button,
  Checkbox,
  MessageBar,
  MessageBarBody,
  Spinner,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Text,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { ArrowDownloadRegular } from '@fluentui/react-icons';
import { useMemo, useState } from 'react';
import type { KeyboardEvent, MouseEvent, ReactNode } from 'react';

import type { QueryState } from '../../hooks/useApiQuery';
import { ErrorState } from '../ErrorState/ErrorState';
import { usePreferences } from '../PreferencesProvider/PreferencesProvider';
import { ColumnChooser } from './ColumnChooser';
import { visibleColumnIds, withColumnChoice } from './columnPrefs';
import { csvFileName, toCsv } from './csv';
import { CursorPager } from './CursorPager';
import { TablePager } from './TablePager';
import { nextSort, pageCount, sortDirection } from './tableState';
import type { TableState } from './tableState';
import type { UpdateTable } from './useTableState';

// Columns without a set width (the name, say) get at least this much.
const FLEXIBLE_COLUMN_PX = 220;
const CHECK_COLUMN_PX = 44;

const useStyles = makeStyles({
  root: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS, minWidth: 0 },
  toolbar: {
    display: 'flex',
    flexWrap: 'wrap',
    alignItems: 'flex-end',
    gap: tokens.spacingHorizontalM,
  },
  filters: {
    display: 'flex',
    flexWrap: 'wrap',
    alignItems: 'flex-end',
    gap: tokens.spacingHorizontalM,
    flexGrow: 1,
  },
  tools: { display: 'flex', gap: tokens.spacingHorizontalS },
  selectionBar: {
    display: 'flex',
    alignItems: 'center',
    gap: tokens.spacingHorizontalM,
    padding: `${tokens.spacingVerticalXS} ${tokens.spacingHorizontalM}`,
    backgroundColor: tokens.colorBrandBackground2,
    borderRadius: tokens.borderRadiusMedium,
  },
  scroll: { overflowX: 'auto' },
  table: { backgroundColor: tokens.colorNeutralBackground1 },
  row: {
    cursor: 'pointer',
    ':focus-visible': {
      outline: `${tokens.strokeWidthThick} solid ${tokens.colorStrokeFocus2}`,
      outlineOffset: `calc(-1 * ${tokens.strokeWidthThick})`,
    },
  },
  cell: { overflowWrap: 'anywhere' },
  checkCell: { width: `${CHECK_COLUMN_PX}px` },
  status: { padding: tokens.spacingVerticalXL, textAlign: 'center' },
});

export interface DataColumn<T> {
  id: string;
  label: string;
  render: (row: T) => ReactNode;
  /** The cell's text in a CSV download. */
  csv: (row: T) => string;
  /** The server's sort value for this column; '-' before it sorts descending. */
  sort?: string;
  /** Sort the newest or largest first on the first click. */
  sortDescendingFirst?: boolean;
  width?: string;
  defaultVisible?: boolean;
  /** The column that names the row: always shown. */
  alwaysVisible?: boolean;
}

/** One page of a list the server counts: pages by number (offset). */
export interface TableData<T> {
  items: T[];
  total: number;
}

/** One page of a list the server pages by cursor, without a total (the timeline). */
export interface CursorTableData<T> {
  items: T[];
  next_cursor: string | null;
}

/** What the table needs of its state: the page shown, its size and the sort. */
export type TableView = Pick<TableState, 'page' | 'pageSize' | 'sort'>;

/** Keyset paging: the page's place in the trail of cursors, and the moves between pages. */
export interface CursorPaging {
  canGoBack: boolean;
  onFirst: () => void;
  onPrevious: () => void;
  onNext: (cursor: string) => void;
}

/** Pages by number, with a total; or, with `cursor`, keyset pages without one. */
type Paging<T> =
  | { cursor?: undefined; result: QueryState<TableData<T>> }
  | { cursor: CursorPaging; result: QueryState<CursorTableData<T>> };

interface BaseProps<T> {
  /** Names the table in the user's saved column choices, such as "devices". */
  tableId: string;
  /** The table's accessible name and the CSV file's name. */
  label: string;
  /** What a row is, plural, for counts: "devices". */
  noun: string;
  columns: readonly DataColumn<T>[];
  state: TableView;
  onChange: UpdateTable;
  onRetry: () => void;
  rowKey: (row: T) => string;
  /** A name for the row, for its selection checkbox: "Select web01". */
  rowLabel: (row: T) => string;
  /** Click or Enter on a row: open its flyout, or its page. */
  onOpen: (row: T) => void;
  /** Shown instead of the table when no row exists on the first page. */
  empty: ReactNode;
  /** Filter fields, shown above the table. */
  filters?: ReactNode;
  /** Where an action applies to rows, its buttons for the selected rows. */
  selectionActions?: (rows: T[], clear: () => void) => ReactNode;
  /** More buttons beside the column chooser, such as an export of the whole range. */
  tools?: ReactNode;
  /** Offer a CSV download of the rows shown; true unless said otherwise. */
  rowsCsv?: boolean;
  testId?: string;
}

type DataTableProps<T> = BaseProps<T> & Paging<T>;

function isInteractive(target: EventTarget | null, row: HTMLElement): boolean {
  const element = target instanceof Element ? target : null;
  const control = element?.closest('a, button, input, label, [role="checkbox"]');
  return control != null && control !== row && row.contains(control);
}

/** Fluent tables lay out fixed: a minimum width keeps every column readable; the page scrolls. */
function minimumWidth(columns: readonly { width?: string }[], selectable: boolean): string {
  const widths = columns.map((column) => {
    const match = /^(\d+)px$/.exec(column.width ?? '');
    return match ? Number(match[1]) : FLEXIBLE_COLUMN_PX;
  });
  const total = widths.reduce((sum, width) => sum + width, selectable ? CHECK_COLUMN_PX : 0);
  return `${total}px`;
}

/** The row the arrow, Home or End key moves focus to; null for other keys. */
function rowToFocus(row: HTMLTableRowElement, key: string): HTMLElement | null {
  const body = row.parentElement;
  if (body === null) return null;
  switch (key) {
    case 'ArrowDown':
      return row.nextElementSibling as HTMLElement | null;
    case 'ArrowUp':
      return row.previousElementSibling as HTMLElement | null;
    case 'Home':
      return body.firstElementChild as HTMLElement | null;
    case 'End':
      return body.lastElementChild as HTMLElement | null;
    default:
      return null;
  }
}

function download(text: string, fileName: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.click();
  URL.revokeObjectURL(url);
}

/**
 * The table every list in Hostwatch uses: server-side pages (by number, or by cursor where
 * the server counts no total), sorting, filters, a remembered column choice, row selection,
 * CSV download of the rows shown, and loading, empty and error states. Rows are reached
 * with Tab, then Up, Down, Home and End; Enter opens one, Space selects it.
 */
export function DataTable<T>(props: DataTableProps<T>) {
  const { tableId, label, noun, columns, state, onChange, result, onRetry } = props;
  const { rowKey, rowLabel, onOpen, empty, filters, selectionActions, testId } = props;
  const { tools, rowsCsv = true } = props;
  const styles = useStyles();
  const { status: prefsStatus, preferences, saveError, save } = usePreferences();
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());

  const saved = preferences?.tables[tableId]?.columns;
  const visibleIds = useMemo(() => visibleColumnIds(columns, saved), [columns, saved]);
  const shownColumns = columns.filter((column) => visibleIds.includes(column.id));
  const rows = result.status === 'ok' ? result.data.items : [];
  const selectable = selectionActions !== undefined;
  // Selection covers the rows on screen only: a new page or filter clears it.
  const selectedRows = rows.filter((row) => selected.has(rowKey(row)));
  const clearSelection = () => setSelected(new Set());

  const setColumnVisible = (columnId: string, visible: boolean) =>
    save((current) => withColumnChoice(current, tableId, columns, columnId, visible));

  const toggle = (row: T) => {
    const key = rowKey(row);
    setSelected((current) => {
      const next = new Set(current);
      if (next.has(key)) next.delete(key);
      else next.add(key);
      return next;
    });
  };

  const allSelected = rows.length > 0 && selectedRows.length === rows.length;
  const someSelected = selectedRows.length > 0 && !allSelected;
  const toggleAll = () =>
    setSelected(allSelected ? new Set() : new Set(rows.map((row) => rowKey(row))));

  const onRowClick = (event: MouseEvent<HTMLTableRowElement>, row: T) => {
    if (!isInteractive(event.target, event.currentTarget)) onOpen(row);
  };

  const onRowKeyDown = (event: KeyboardEvent<HTMLTableRowElement>, row: T) => {
    if (event.target !== event.currentTarget) return;
    const next = rowToFocus(event.currentTarget, event.key);
    if (next !== null) {
      event.preventDefault();
      next.focus();
    } else if (event.key === 'Enter') {
      event.preventDefault();
      onOpen(row);
    } else if (event.key === ' ' && selectable) {
      event.preventDefault();
      toggle(row);
    }
  };

  const downloadCsv = () => {
    const header = shownColumns.map((column) => column.label);
    const cells = rows.map((row) => shownColumns.map((column) => column.csv(row)));
    download(toCsv(header, cells), csvFileName(label));
  };

  const changePage = (page: number) => {
    clearSelection();
    onChange({ page });
  };
  const changePageSize = (pageSize: number) => {
    clearSelection();
    onChange({ pageSize });
  };
  // Keyset moves clear the selection too; the caller moves along its trail of cursors.
  const cursorMove = (move: () => void) => () => {
    clearSelection();
    move();
  };

  let pager: ReactNode = null;
  let isEmpty = false;
  let pastEnd: ReactNode = null;
  if (props.cursor === undefined) {
    if (props.result.status === 'ok') {
      const total = props.result.data.total;
      isEmpty = total === 0 && state.page === 1;
      if (rows.length === 0 && state.page > 1) {
        pastEnd = (
          <>
            Page {state.page} is past the end: there are {total} {noun}.{' '}
            <Button
              appearance="transparent"
              onClick={() => changePage(pageCount(total, state.pageSize))}
            >
              Go to the last page
            </Button>
          </>
        );
      }
      pager = (
        <TablePager
          page={state.page}
          pageSize={state.pageSize}
          total={total}
          shown={rows.length}
          noun={noun}
          onPage={changePage}
          onPageSize={changePageSize}
        />
      );
    }
  } else if (props.result.status === 'ok') {
    const paging = props.cursor;
    const nextCursor = props.result.data.next_cursor;
    isEmpty = rows.length === 0 && state.page === 1;
    if (rows.length === 0 && state.page > 1) {
      pastEnd = (
        <>
          There are no more {noun} past this point.{' '}
          <Button appearance="transparent" onClick={cursorMove(paging.onFirst)}>
            Go to the first page
          </Button>
        </>
      );
    }
    pager = (
      <CursorPager
        page={state.page}
        pageSize={state.pageSize}
        shown={rows.length}
        noun={noun}
        hasNext={nextCursor !== null}
        canGoBack={paging.canGoBack}
        onFirst={cursorMove(paging.onFirst)}
        onPrevious={cursorMove(paging.onPrevious)}
        onNext={cursorMove(() => {
          if (nextCursor !== null) paging.onNext(nextCursor);
        })}
        onPageSize={changePageSize}
      />
    );
  }

  const columnCount = shownColumns.length + (selectable ? 1 : 0);

  let body: ReactNode;
  if (result.status === 'loading' || prefsStatus === 'loading') {
    body = (
      <TableRow>
        <TableCell colSpan={columnCount} className={styles.status}>
          <Spinner size="small" label={`Loading ${noun}…`} role="status" />
        </TableCell>
      </TableRow>
    );
  } else {
    body = rows.map((row) => {
      const key = rowKey(row);
      return (
        <TableRow
          key={key}
          className={styles.row}
          tabIndex={0}
          data-testid="table-row"
          data-row-key={key}
          onClick={(event) => onRowClick(event, row)}
          onKeyDown={(event) => onRowKeyDown(event, row)}
        >
          {selectable && (
            <TableCell className={styles.checkCell}>
              <Checkbox
                checked={selected.has(key)}
                onChange={() => toggle(row)}
                aria-label={rowLabel(row)}
                tabIndex={-1}
                data-testid="row-select"
              />
            </TableCell>
          )}
          {shownColumns.map((column) => (
            <TableCell key={column.id} className={styles.cell}>
              {column.render(row)}
            </TableCell>
          ))}
        </TableRow>
      );
    });
  }

  let content: ReactNode;
  if (result.status === 'error') {
    content = (
      <ErrorState title={`Could not load the ${noun}`} error={result.error} onRetry={onRetry} />
    );
  } else if (isEmpty) {
    content = empty;
  } else {
    content = (
      <>
        {pastEnd !== null && (
          <MessageBar intent="info" data-testid="table-past-end">
            <MessageBarBody>{pastEnd}</MessageBarBody>
          </MessageBar>
        )}
        <div className={styles.scroll}>
          <Table
            size="small"
            aria-label={label}
            className={styles.table}
            style={{ minWidth: minimumWidth(shownColumns, selectable) }}
            data-testid={testId}
          >
            <TableHeader>
              <TableRow>
                {selectable && (
                  <TableHeaderCell className={styles.checkCell}>
                    <Checkbox
                      checked={allSelected ? true : someSelected ? 'mixed' : false}
                      onChange={toggleAll}
                      aria-label={`Select all ${noun} on this page`}
                      disabled={rows.length === 0}
                      data-testid="select-all"
                    />
                  </TableHeaderCell>
                )}
                {shownColumns.map((column) => {
                  const sort = column.sort;
                  const style = column.width === undefined ? undefined : { width: column.width };
                  return (
                    <TableHeaderCell
                      key={column.id}
                      style={style}
                      data-testid={`column-${column.id}`}
                      {...(sort === undefined
                        ? {}
                        : {
                            sortable: true,
                            sortDirection: sortDirection(state.sort, sort),
                            onClick: () =>
                              onChange({
                                sort: nextSort(state.sort, sort, column.sortDescendingFirst),
                              }),
                          })}
                    >
                      {column.label}
                    </TableHeaderCell>
                  );
                })}
              </TableRow>
            </TableHeader>
            <TableBody aria-busy={result.status === 'loading'}>{body}</TableBody>
          </Table>
        </div>
        {pager}
      </>
    );
  }

  return (
    <div className={styles.root}>
      <div className={styles.toolbar}>
        <div className={styles.filters} role="search" aria-label={`Filter ${noun}`}>
          {filters}
        </div>
        <div className={styles.tools}>
          <ColumnChooser columns={columns} visible={visibleIds} onChange={setColumnVisible} />
          {rowsCsv && (
            <Button
              icon={<ArrowDownloadRegular />}
              onClick={downloadCsv}
              disabled={rows.length === 0}
              data-testid="download-csv"
            >
              Download CSV
            </Button>
          )}
          {tools}
        </div>
      </div>
      {saveError !== null && (
        <MessageBar intent="warning">
          <MessageBarBody>Your column choice was not saved: {saveError}</MessageBarBody>
        </MessageBar>
      )}
      {prefsStatus === 'failed' && (
        <Body1>Your saved column choices could not be loaded; the defaults are shown.</Body1>
      )}
      {selectable && selectedRows.length > 0 && (
        <div className={styles.selectionBar} data-testid="selection-bar">
          <Text weight="semibold">
            {selectedRows.length} of {rows.length} selected
          </Text>
          {selectionActions(selectedRows, clearSelection)}
          <Button appearance="subtle" onClick={clearSelection}>
            Clear selection
          </Button>
        </div>
      )}
      {content}
    </div>
  );
}
