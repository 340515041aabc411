import { Button, Text, makeStyles, tokens } from '@fluentui/react-components';
import { ChevronLeftRegular, ChevronRightRegular } from '@fluentui/react-icons';
import { useState } from 'react';

import { listDevices } from '../../api/client';
import type { DeviceSort } from '../../api/types';
import { ErrorState } from '../../components/ErrorState/ErrorState';
import { LoadingState } from '../../components/LoadingState/LoadingState';
import { useApiQuery } from '../../hooks/useApiQuery';
import { formatCount } from '../../lib/format';
import { DeviceTable } from './DeviceTable';
import { EmptyDevices } from './EmptyDevices';
import { hasFilters } from './listParams';
import type { DeviceFilters } from './listParams';

export const PAGE_SIZE = 50;

const useStyles = makeStyles({
  tableScroll: { overflowX: 'auto' },
  pager: {
    display: 'flex',
    alignItems: 'center',
    gap: tokens.spacingHorizontalM,
    paddingTop: tokens.spacingVerticalS,
  },
  count: { color: tokens.colorNeutralForeground3 },
});

interface DeviceResultsProps {
  filters: DeviceFilters;
  onSort: (sort: DeviceSort) => void;
}

/** One filtered, sorted list of devices, paged by the server's cursors. */
export function DeviceResults({ filters, onSort }: DeviceResultsProps) {
  const styles = useStyles();
  // The cursors of the pages visited, first page (no cursor) at the bottom: "Previous" pops.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const pageIndex = cursors.length - 1;

  const [result, retry] = useApiQuery(
    (signal) =>
      listDevices(
        {
          q: filters.q || undefined,
          tag: filters.tag || undefined,
          health: filters.health || undefined,
          sort: filters.sort,
          limit: PAGE_SIZE,
          cursor: cursor ?? undefined,
        },
        signal,
      ),
    [filters.q, filters.tag, filters.health, filters.sort, cursor],
  );

  if (result.status === 'loading') {
    return <LoadingState label="Loading devices…" />;
  }
  if (result.status === 'error') {
    return <ErrorState title="Could not load the devices" error={result.error} onRetry={retry} />;
  }

  const page = result.data;
  if (page.items.length === 0 && pageIndex === 0) {
    return <EmptyDevices filtered={hasFilters(filters)} />;
  }

  const first = pageIndex * PAGE_SIZE + 1;
  const last = pageIndex * PAGE_SIZE + page.items.length;
  const nextCursor = page.next_cursor;

  return (
    <>
      <div className={styles.tableScroll}>
        <DeviceTable devices={page.items} sort={filters.sort} onSort={onSort} />
      </div>
      <nav className={styles.pager} aria-label="Pages">
        <Button
          icon={<ChevronLeftRegular />}
          disabled={pageIndex === 0}
          onClick={() => setCursors((stack) => stack.slice(0, -1))}
          data-testid="page-previous"
        >
          Previous
        </Button>
        <Button
          icon={<ChevronRightRegular />}
          iconPosition="after"
          disabled={nextCursor === null}
          onClick={() => nextCursor !== null && setCursors((stack) => [...stack, nextCursor])}
          data-testid="page-next"
        >
          Next
        </Button>
        <Text className={styles.count} aria-live="polite" data-testid="device-count">
          {page.items.length === 0
            ? `No more devices (${formatCount(page.total)} in all)`
            : `${formatCount(first)}–${formatCount(last)} of ${formatCount(page.total)}`}
        </Text>
      </nav>
    </>
  );
}
