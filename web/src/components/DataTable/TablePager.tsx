import { Button, Text } from '@fluentui/react-components';
import {
  ChevronDoubleLeftRegular,
  ChevronDoubleRightRegular,
  ChevronLeftRegular,
  ChevronRightRegular,
} from '@fluentui/react-icons';

import { formatCount } from '../../lib/format';
import { PageSizeSelect, usePagerStyles } from './PageSizeSelect';
import { pageCount } from './tableState';

interface TablePagerProps {
  page: number;
  pageSize: number;
  total: number;
  shown: number;
  noun: string;
  onPage: (page: number) => void;
  onPageSize: (size: number) => void;
}

/** Page buttons, where the rows shown sit in the whole, and the page size. */
export function TablePager({
  page,
  pageSize,
  total,
  shown,
  noun,
  onPage,
  onPageSize,
}: TablePagerProps) {
  const styles = usePagerStyles();
  const pages = pageCount(total, pageSize);
  const first = (page - 1) * pageSize + 1;
  const range =
    shown === 0
      ? `${formatCount(total)} ${noun} in all`
      : `${formatCount(first)}–${formatCount(first + shown - 1)} of ${formatCount(total)} ${noun}`;
  return (
    <nav className={styles.root} aria-label="Pages">
      <Button
        icon={<ChevronDoubleLeftRegular />}
        aria-label="First page"
        disabled={page <= 1}
        onClick={() => onPage(1)}
        data-testid="page-first"
      />
      <Button
        icon={<ChevronLeftRegular />}
        disabled={page <= 1}
        onClick={() => onPage(page - 1)}
        data-testid="page-previous"
      >
        Previous
      </Button>
      <Text data-testid="page-number">
        Page {formatCount(page)} of {formatCount(pages)}
      </Text>
      <Button
        icon={<ChevronRightRegular />}
        iconPosition="after"
        disabled={page >= pages}
        onClick={() => onPage(page + 1)}
        data-testid="page-next"
      >
        Next
      </Button>
      <Button
        icon={<ChevronDoubleRightRegular />}
        aria-label="Last page"
        disabled={page >= pages}
        onClick={() => onPage(pages)}
        data-testid="page-last"
      />
      <PageSizeSelect pageSize={pageSize} onPageSize={onPageSize} />
      <Text className={styles.muted} aria-live="polite" data-testid="table-count">
        {range}
      </Text>
    </nav>
  );
}
