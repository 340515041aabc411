import { makeStyles, tokens } from '@fluentui/react-components';
import type { ReactNode } from 'react';

const useStyles = makeStyles({
  root: { color: tokens.colorNeutralForeground3, fontStyle: 'italic' },
});

/** Says why a value is missing, instead of a blank or a zero. */
export function NotKnown({ children = 'Not known yet' }: { children?: ReactNode }) {
  const styles = useStyles();
  return <span className={styles.root}>{children}</span>;
}
