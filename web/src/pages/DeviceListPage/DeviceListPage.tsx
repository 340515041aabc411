import {
  Button,
  Field,
  SearchBox,
  Select,
  Tag,
  TagGroup,
  Title3,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useEffect, useState } from 'react';
import { useSearchParams } from 'react-router';

import { useDebouncedValue } from '../../hooks/useDebouncedValue';
import { useDocumentTitle } from '../../hooks/useDocumentTitle';
import { DeviceResults } from './DeviceResults';
import { hasFilters, parseHealth, readFilters, writeFilters } from './listParams';
import type { DeviceFilters } from './listParams';

const useStyles = makeStyles({
  page: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalM,
    padding: `${tokens.spacingVerticalL} ${tokens.spacingHorizontalXL}`,
    minWidth: 0,
  },
  heading: { margin: 0 },
  filters: {
    display: 'flex',
    flexWrap: 'wrap',
    alignItems: 'flex-end',
    gap: tokens.spacingHorizontalL,
  },
  search: { width: '320px', maxWidth: '100%' },
  health: { width: '180px' },
});

const SEARCH_DELAY_MS = 300;

export function DeviceListPage() {
  useDocumentTitle('Devices');
  const styles = useStyles();
  const [searchParams, setSearchParams] = useSearchParams();
  const filters = readFilters(searchParams);

  const [searchText, setSearchText] = useState(filters.q);
  const settledSearch = useDebouncedValue(searchText, SEARCH_DELAY_MS);

  const update = (change: Partial<DeviceFilters>) => {
    setSearchParams(writeFilters({ ...filters, ...change }), { replace: true });
  };

  // Typing updates the address once the user pauses.
  useEffect(() => {
    if (settledSearch.trim() !== filters.q) {
      update({ q: settledSearch });
    }
    // Only a settled change of the text should write the address.
  }, [settledSearch]);

  // The address changed from outside (back button, a link): show its search in the box.
  useEffect(() => {
    if (filters.q !== settledSearch.trim()) {
      setSearchText(filters.q);
    }
  }, [filters.q]);

  const clearFilters = () => {
    setSearchText('');
    setSearchParams(writeFilters({ ...filters, q: '', tag: '', health: '' }), { replace: true });
  };

  // A new filter or sort starts again at the first page: DeviceResults keeps the
  // cursors of the pages seen, and its key drops them.
  const resultsKey = writeFilters(filters).toString();

  return (
    <div className={styles.page}>
      <Title3 as="h1" className={styles.heading}>
        Devices
      </Title3>
      <div className={styles.filters} role="search">
        <Field label="Search" className={styles.search}>
          <SearchBox
            value={searchText}
            onChange={(_, data) => setSearchText(data.value)}
            placeholder="Name, IP address or tag"
            data-testid="device-search"
          />
        </Field>
        <Field label="Health" className={styles.health}>
          <Select
            value={filters.health}
            onChange={(_, data) => update({ health: parseHealth(data.value) })}
            data-testid="device-health-filter"
          >
            <option value="">All</option>
            <option value="active">Active</option>
            <option value="inactive">Inactive</option>
            <option value="misconfigured">Misconfigured</option>
          </Select>
        </Field>
        {filters.tag !== '' && (
          <TagGroup
            aria-label="Tag filter"
            onDismiss={() => update({ tag: '' })}
            data-testid="device-tag-filter"
          >
            <Tag value="tag" dismissible dismissIcon={{ 'aria-label': 'Remove tag filter' }}>
              Tag: {filters.tag}
            </Tag>
          </TagGroup>
        )}
        {hasFilters(filters) && (
          <Button appearance="subtle" onClick={clearFilters}>
            Clear filters
          </Button>
        )}
      </div>
      <DeviceResults key={resultsKey} filters={filters} onSort={(sort) => update({ sort })} />
    </div>
  );
}
