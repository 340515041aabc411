import { Button, Text } from '@fluentui/react-components';
import {
  ChevronDoubleLeftRegular,
  ChevronLeftRegular,
  ChevronRightRegular,
} from '@fluentui/react-icons';

import { formatCount } from '../../lib/format';
import { PageSizeSelect, usePagerStyles } from './PageSizeSelect';

interface CursorPagerProps {
  page: number;
  pageSize: number;
  shown: number;
  noun: string;
  hasNext: boolean;
  canGoBack: boolean;
  onFirst: () => void;
  onPrevious: () => void;
  onNext: () => void;
  onPageSize: (size: number) => void;
}

/**
 * Page buttons for keyset pages: first, previous and next, without a last page or a total,
 * which the server does not count.
 */
export function CursorPager(props: CursorPagerProps) {
  const { page, pageSize, shown, noun, hasNext, canGoBack } = props;
  const styles = usePagerStyles();
  const first = (page - 1) * pageSize + 1;
  const range =
    shown === 0
      ? `No ${noun} on this page`
      : `${noun[0]?.toUpperCase()}${noun.slice(1)} ${formatCount(first)}–${formatCount(first + shown - 1)}${hasNext ? ', more follow' : ', the last'}`;
  return (
    <nav className={styles.root} aria-label="Pages">
      <Button
        icon={<ChevronDoubleLeftRegular />}
        aria-label="First page"
        disabled={page <= 1}
        onClick={props.onFirst}
        data-testid="page-first"
      />
      <Button
        icon={<ChevronLeftRegular />}
        disabled={!canGoBack}
        onClick={props.onPrevious}
        data-testid="page-previous"
      >
        Previous
      </Button>
      <Text data-testid="page-number">Page {formatCount(page)}</Text>
      <Button
        icon={<ChevronRightRegular />}
        iconPosition="after"
        disabled={!hasNext}
        onClick={props.onNext}
        data-testid="page-next"
      >
        Next
      </Button>
      <PageSizeSelect pageSize={pageSize} onPageSize={props.onPageSize} />
      <Text className={styles.muted} aria-live="polite" data-testid="table-count">
        {range}
      </Text>
    </nav>
  );
}
