import { Field, SearchBox, makeStyles } from '@fluentui/react-components';
import { useEffect, useState } from 'react';

import { useDebouncedValue } from '../../hooks/useDebouncedValue';

const useStyles = makeStyles({ root: { width: '280px', maxWidth: '100%' } });

const SEARCH_DELAY_MS = 300;

interface TableSearchProps {
  label: string;
  placeholder: string;
  /** The search in the address. */
  value: string;
  /** Called once typing pauses. */
  onSearch: (text: string) => void;
  testId?: string;
}

/** A search box that writes to the address once the user stops typing. */
export function TableSearch({ label, placeholder, value, onSearch, testId }: TableSearchProps) {
  const styles = useStyles();
  const [text, setText] = useState(value);
  const settled = useDebouncedValue(text, SEARCH_DELAY_MS);

  useEffect(() => {
    if (settled.trim() !== value) onSearch(settled.trim());
    // Only a settled change of the text should write the address.
  }, [settled]);

  // The address changed from outside (Back, a link): show its search in the box.
  useEffect(() => {
    if (value !== settled.trim()) setText(value);
  }, [value]);

  return (
    <Field label={label} className={styles.root}>
      <SearchBox
        value={text}
        onChange={(_, data) => setText(data.value)}
        placeholder={placeholder}
        data-testid={testId}
      />
    </Field>
  );
}
