import { Button, Label, Select, Text, makeStyles, tokens } from '@fluentui/react-components';
import {
  ChevronDoubleLeftRegular,
  ChevronDoubleRightRegular,
  ChevronLeftRegular,
  ChevronRightRegular,
} from '@fluentui/react-icons';
import { useId } from 'react';

import { formatCount } from '../../lib/format';
import { PAGE_SIZES, pageCount } from './tableState';

const useStyles = makeStyles({
  root: {
    display: 'flex',
    flexWrap: 'wrap',
    alignItems: 'center',
    gap: tokens.spacingHorizontalS,
    paddingTop: tokens.spacingVerticalS,
  },
  size: { display: 'flex', alignItems: 'center', gap: tokens.spacingHorizontalS },
  muted: { color: tokens.colorNeutralForeground3 },
  nowrap: { whiteSpace: 'nowrap' },
});

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
  const styles = useStyles();
  const sizeId = useId();
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
      <span className={styles.size}>
        <Label htmlFor={sizeId} className={styles.nowrap}>
          Rows per page
        </Label>
        <Select
          id={sizeId}
          value={String(pageSize)}
          onChange={(_, data) => onPageSize(Number(data.value))}
          data-testid="page-size"
        >
          {PAGE_SIZES.map((size) => (
            <option key={size} value={size}>
              {size}
            </option>
          ))}
        </Select>
      </span>
      <Text className={styles.muted} aria-live="polite" data-testid="table-count">
        {range}
      </Text>
    </nav>
  );
}
