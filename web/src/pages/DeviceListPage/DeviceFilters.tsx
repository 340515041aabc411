import { Button, Field, Select, makeStyles } from '@fluentui/react-components';
import { useId } from 'react';

import { TableSearch } from '../../components/DataTable/TableSearch';
import type { UpdateTable } from '../../components/DataTable/useTableState';
import { healthLabel, knownFromLabel, levelLabel } from '../../lib/labels';
import { EXPOSURE_LEVELS, HEALTH_STATES, KNOWN_FROM, RISK_LEVELS } from './deviceQuery';

const useStyles = makeStyles({ select: { minWidth: '140px' } });

const SEEN_LABELS: Record<string, string> = {
  '24h': 'In the last 24 hours',
  '7d': 'In the last 7 days',
  '30d': 'In the last 30 days',
  'over-30d': 'Not for over 30 days',
};

interface ChoiceProps {
  label: string;
  name: string;
  value: string;
  options: readonly string[];
  optionLabel: (value: string) => string;
  onChange: UpdateTable;
}

function Choice({ label, name, value, options, optionLabel, onChange }: ChoiceProps) {
  const styles = useStyles();
  const id = useId();
  return (
    <Field label={{ children: label, htmlFor: id }} className={styles.select}>
      <Select
        id={id}
        value={value}
        onChange={(_, data) => onChange({ filters: { [name]: data.value } })}
        data-testid={`filter-${name}`}
      >
        <option value="">All</option>
        {options.map((option) => (
          <option key={option} value={option}>
            {optionLabel(option)}
          </option>
        ))}
      </Select>
    </Field>
  );
}

interface DeviceFiltersProps {
  filters: Record<string, string>;
  onChange: UpdateTable;
}

/** The device list's filters: one for each column a device can be found by. */
export function DeviceFilters({ filters, onChange }: DeviceFiltersProps) {
  const text = (name: string) => (value: string) =>
    onChange({ filters: { [name]: value } }, { replace: true });
  const value = (name: string) => filters[name] ?? '';
  const any = Object.values(filters).some((v) => v !== '');
  const clear = () =>
    onChange({ filters: Object.fromEntries(Object.keys(filters).map((name) => [name, ''])) });

  return (
    <>
      <TableSearch
        label="Search"
        placeholder="Name, IP address or tag"
        value={value('q')}
        onSearch={text('q')}
        testId="device-search"
      />
      <Choice
        label="Known from"
        name="known_from"
        value={value('known_from')}
        options={KNOWN_FROM}
        optionLabel={(v) => knownFromLabel(v as (typeof KNOWN_FROM)[number])}
        onChange={onChange}
      />
      <Choice
        label="Health"
        name="health"
        value={value('health')}
        options={HEALTH_STATES}
        optionLabel={(v) => healthLabel(v as (typeof HEALTH_STATES)[number])}
        onChange={onChange}
      />
      <Choice
        label="Risk"
        name="risk"
        value={value('risk')}
        options={RISK_LEVELS}
        optionLabel={(v) => levelLabel(v as (typeof RISK_LEVELS)[number])}
        onChange={onChange}
      />
      <Choice
        label="Exposure"
        name="exposure"
        value={value('exposure')}
        options={EXPOSURE_LEVELS}
        optionLabel={(v) => levelLabel(v as (typeof EXPOSURE_LEVELS)[number])}
        onChange={onChange}
      />
      <Choice
        label="Last seen"
        name="seen"
        value={value('seen')}
        options={Object.keys(SEEN_LABELS)}
        optionLabel={(v) => SEEN_LABELS[v] ?? v}
        onChange={onChange}
      />
      <TableSearch
        label="Domain"
        placeholder="Contains"
        value={value('domain')}
        onSearch={text('domain')}
        testId="filter-domain"
      />
      <TableSearch
        label="OS"
        placeholder="Family, name or version"
        value={value('os')}
        onSearch={text('os')}
        testId="filter-os"
      />
      <TableSearch
        label="Tag"
        placeholder="Exact tag"
        value={value('tag')}
        onSearch={text('tag')}
        testId="filter-tag"
      />
      {any && (
        <Button appearance="subtle" onClick={clear} data-testid="clear-filters">
          Clear filters
        </Button>
      )}
    </>
  );
}
