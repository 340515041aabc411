import { makeStyles, tokens } from '@fluentui/react-components';
import type { ReactNode } from 'react';

const useStyles = makeStyles({
  root: {
    display: 'grid',
    gridTemplateColumns: 'minmax(7rem, max-content) minmax(0, 1fr)',
    columnGap: tokens.spacingHorizontalM,
    rowGap: tokens.spacingVerticalS,
    margin: 0,
  },
  row: { display: 'contents' },
  term: { color: tokens.colorNeutralForeground3 },
  value: { margin: 0, overflowWrap: 'anywhere' },
});

export interface Property {
  label: string;
  value: ReactNode;
  testId?: string;
}

/** Label and value pairs, as a description list. */
export function PropertyList({ items }: { items: Property[] }) {
  const styles = useStyles();
  return (
    <dl className={styles.root}>
      {items.map((item) => (
        <div key={item.label} className={styles.row}>
          <dt className={styles.term}>{item.label}</dt>
          <dd className={styles.value} data-testid={item.testId}>
            {item.value}
          </dd>
        </div>
      ))}
    </dl>
  );
}
