import { Label, Select, makeStyles, tokens } from '@fluentui/react-components';
import { useId } from 'react';

import { PAGE_SIZES } from './tableState';

export const usePagerStyles = makeStyles({
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

/** The "Rows per page" choice both pagers share. */
export function PageSizeSelect(props: { pageSize: number; onPageSize: (size: number) => void }) {
  const styles = usePagerStyles();
  const sizeId = useId();
  return (
    <span className={styles.size}>
      <Label htmlFor={sizeId} className={styles.nowrap}>
        Rows per page
      </Label>
      <Select
        id={sizeId}
        value={String(props.pageSize)}
        onChange={(_, data) => props.onPageSize(Number(data.value))}
        data-testid="page-size"
      >
        {PAGE_SIZES.map((size) => (
          <option key={size} value={size}>
            {size}
          </option>
        ))}
      </Select>
    </span>
  );
}
