import {
  Badge,
  Body1,
  Field,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
  Select,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useId } from 'react';

import { getVulnerabilityCoverage, listDeviceVulnerabilities } from '../../api/client';
import type {
  Coverage,
  DeviceDetail,
  FindingStatus,
  MatchStatus,
  VulnerabilityItem,
  VulnerabilityListQuery,
  VulnerabilitySort,
} from '../../api/types';
import { DataTable } from '../../components/DataTable/DataTable';
import type { DataColumn } from '../../components/DataTable/DataTable';
import { TableSearch } from '../../components/DataTable/TableSearch';
import { hasActiveFilters, offsetOf } from '../../components/DataTable/tableState';
import type { TableSpec } from '../../components/DataTable/tableState';
import { useTableState } from '../../components/DataTable/useTableState';
import { DateTime } from '../../components/DateTime/DateTime';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { useApiQuery } from '../../hooks/useApiQuery';
import { formatUtcTime, parseApiTime } from '../../lib/format';
import {
  FINDING_STATUSES,
  MATCH_STATUSES,
  UNSCORED,
  VULN_SEVERITIES,
  cvssText,
  findingStatusLabel,
  matchLabel,
  threatText,
  vulnSeverityColor,
  vulnSeverityLabel,
} from '../../lib/vulnLabels';
import { VulnerabilityFlyout } from './VulnerabilityFlyout';
import { coverageLines, emptyText } from './coverageText';

const useStyles = makeStyles({
  empty: {
    padding: tokens.spacingVerticalXL,
    border: `${tokens.strokeWidthThin} dashed ${tokens.colorNeutralStroke1}`,
    borderRadius: tokens.borderRadiusMedium,
  },
  filter: { minWidth: '150px' },
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200 },
  coverage: { marginBottom: tokens.spacingVerticalM },
  coverageList: { margin: 0, paddingLeft: tokens.spacingHorizontalXL },
});

/** What the list was checked against: software no imported feed covers is named, so an empty
 * or short list is never read as a clean device. */
function CoverageNote({ coverage }: { coverage: Coverage }) {
  const styles = useStyles();
  const { checked, unchecked } = coverageLines(coverage);
  if (unchecked.length === 0) {
    return null;
  }
  return (
    <MessageBar intent="warning" className={styles.coverage} data-testid="vulnerabilities-coverage">
      <MessageBarBody>
        <MessageBarTitle>
          {checked.length === 0 ? 'Not assessed' : 'Partly assessed'}
        </MessageBarTitle>
        <ul className={styles.coverageList}>
          {unchecked.map((line) => (
            <li key={line}>{line}</li>
          ))}
          {checked.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      </MessageBarBody>
    </MessageBar>
  );
}

const SORTS: readonly VulnerabilitySort[] = [
  '-cvss_score',
  'cvss_score',
  '-severity',
  'severity',
  '-published',
  'published',
  '-updated',
  'updated',
  'cve',
  '-cve',
  'software',
  '-software',
  'status',
  '-status',
];
const SEVERITY_FILTERS = [...VULN_SEVERITIES, UNSCORED];

export const VULNERABILITIES_TABLE: TableSpec = {
  sorts: SORTS,
  defaultSort: '-cvss_score',
  filters: {
    severity: SEVERITY_FILTERS,
    status: FINDING_STATUSES,
    match: MATCH_STATUSES,
    kev: ['true', 'false'],
    software: null,
    cve: null,
  },
};

function timeText(value: string | null | undefined): string {
  if (value == null) return '';
  const date = parseApiTime(value);
  return date === null ? value : formatUtcTime(date);
}

export function VulnSeverityBadge({ severity }: { severity: string | null | undefined }) {
  return (
    <Badge appearance="tint" shape="rounded" color={vulnSeverityColor(severity)}>
      {vulnSeverityLabel(severity)}
    </Badge>
  );
}

function softwareText(item: VulnerabilityItem): string {
  const software = item.software;
  if (!software) return '';
  return software.version ? `${software.name} ${software.version}` : software.name;
}

function useColumns(): DataColumn<VulnerabilityItem>[] {
  const styles = useStyles();
  return [
    {
      id: 'cve',
      label: 'Vulnerability',
      sort: 'cve',
      alwaysVisible: true,
      width: '170px',
      render: (item) => item.cve ?? '',
      csv: (item) => item.cve ?? '',
    },
    {
      id: 'severity',
      label: 'Severity',
      sort: 'severity',
      sortDescendingFirst: true,
      width: '120px',
      render: (item) => <VulnSeverityBadge severity={item.severity} />,
      csv: (item) => item.severity ?? '',
    },
    {
      id: 'cvss_score',
      label: 'CVSS',
      sort: 'cvss_score',
      sortDescendingFirst: true,
      width: '130px',
      render: (item) =>
        item.cvss_score == null ? (
          <NotKnown>No vector</NotKnown>
        ) : (
          cvssText(item.cvss_score, item.cvss_version)
        ),
      csv: (item) => (item.cvss_score == null ? '' : String(item.cvss_score)),
    },
    {
      id: 'software',
      label: 'Software',
      sort: 'software',
      render: (item) =>
        item.software?.version == null ? (
          <>
            {item.software?.name ?? ''} <NotKnown>(no version)</NotKnown>
          </>
        ) : (
          softwareText(item)
        ),
      csv: softwareText,
    },
    {
      id: 'threats',
      label: 'Threats',
      width: '170px',
      render: (item) => threatText(item.threats) || <NotKnown>None known</NotKnown>,
      csv: (item) => threatText(item.threats),
    },
    {
      id: 'fixed_version',
      label: 'Fixed in',
      width: '120px',
      render: (item) => item.fixed_version ?? <NotKnown>No fix named</NotKnown>,
      csv: (item) => item.fixed_version ?? '',
    },
    {
      id: 'match',
      label: 'Match',
      width: '120px',
      render: (item) => (item.match ? matchLabel(item.match) : ''),
      csv: (item) => item.match ?? '',
    },
    {
      id: 'status',
      label: 'Status',
      sort: 'status',
      width: '130px',
      render: (item) => (item.status ? findingStatusLabel(item.status) : ''),
      csv: (item) => item.status ?? '',
    },
    {
      id: 'published',
      label: 'Published',
      sort: 'published',
      sortDescendingFirst: true,
      width: '130px',
      render: (item) => <DateTime value={item.published ?? null} relative missing="not given" />,
      csv: (item) => timeText(item.published),
    },
    {
      id: 'updated',
      label: 'Updated',
      sort: 'updated',
      sortDescendingFirst: true,
      width: '130px',
      defaultVisible: false,
      render: (item) => <DateTime value={item.updated ?? null} relative missing="not given" />,
      csv: (item) => timeText(item.updated),
    },
    {
      id: 'cvss_vector',
      label: 'CVSS vector',
      defaultVisible: false,
      render: (item) => <span className={styles.mono}>{item.cvss_vector ?? ''}</span>,
      csv: (item) => item.cvss_vector ?? '',
    },
    {
      id: 'aliases',
      label: 'Aliases',
      defaultVisible: false,
      render: (item) => (item.aliases ?? []).join(', '),
      csv: (item) => (item.aliases ?? []).join(' '),
    },
  ];
}

interface SelectFilterProps {
  label: string;
  value: string;
  options: readonly string[];
  optionLabel: (value: string) => string;
  onChange: (value: string) => void;
  testId: string;
}

function SelectFilter({ label, value, options, optionLabel, onChange, testId }: SelectFilterProps) {
  const styles = useStyles();
  const id = useId();
  return (
    <Field label={{ children: label, htmlFor: id }} className={styles.filter}>
      <Select
        id={id}
        value={value}
        onChange={(_, data) => onChange(data.value)}
        data-testid={testId}
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

/** The device's findings: each vulnerability of each installed product, with its evidence. */
export function VulnerabilitiesTab({ device }: { device: DeviceDetail }) {
  const styles = useStyles();
  const columns = useColumns();
  const [state, update] = useTableState(VULNERABILITIES_TABLE);
  const filter = (name: string) => state.filters[name] ?? '';
  const severity = filter('severity');
  const kev = filter('kev');
  // The table state only holds values of the spec's lists.
  const query: VulnerabilityListQuery = {
    severity: severity
      ? [severity as NonNullable<VulnerabilityListQuery['severity']>[number]]
      : null,
    status: filter('status') ? [filter('status') as FindingStatus] : null,
    match: (filter('match') || null) as MatchStatus | null,
    kev: kev === '' ? null : kev === 'true',
    software: filter('software') || null,
    cve: filter('cve') || null,
    sort: state.sort as VulnerabilitySort,
    limit: state.pageSize,
    offset: offsetOf(state),
  };
  const [result, retry] = useApiQuery(
    (signal) => listDeviceVulnerabilities(device.id, query, signal),
    [device.id, JSON.stringify(query)],
  );
  const [coverageResult] = useApiQuery(
    (signal) => getVulnerabilityCoverage(device.id, signal),
    [device.id],
  );
  const coverage = coverageResult.status === 'ok' ? coverageResult.data : null;
  const filtered = hasActiveFilters(state);

  return (
    <>
      {coverage && <CoverageNote coverage={coverage} />}
      <DataTable
        tableId="device.vulnerabilities"
        label="Discovered vulnerabilities"
        noun="vulnerabilities"
        testId="vulnerabilities-table"
        columns={columns}
        state={state}
        onChange={update}
        result={result}
        onRetry={retry}
        rowKey={(item) => String(item.id)}
        rowLabel={(item) => `Select ${item.cve ?? item.id} in ${softwareText(item)}`}
        onOpen={(item) => update({ item: String(item.id) })}
        filters={
          <>
            <TableSearch
              label="Vulnerability"
              placeholder="CVE, GHSA or PYSEC id"
              value={filter('cve')}
              onSearch={(cve) => update({ filters: { cve } }, { replace: true })}
              testId="filter-cve"
            />
            <TableSearch
              label="Software"
              placeholder="Name contains"
              value={filter('software')}
              onSearch={(software) => update({ filters: { software } }, { replace: true })}
              testId="filter-software"
            />
            <SelectFilter
              label="Severity"
              value={severity}
              options={SEVERITY_FILTERS}
              optionLabel={vulnSeverityLabel}
              onChange={(value) => update({ filters: { severity: value } })}
              testId="filter-severity"
            />
            <SelectFilter
              label="Status"
              value={filter('status')}
              options={FINDING_STATUSES}
              optionLabel={findingStatusLabel}
              onChange={(value) => update({ filters: { status: value } })}
              testId="filter-status"
            />
            <SelectFilter
              label="Match"
              value={filter('match')}
              options={MATCH_STATUSES}
              optionLabel={matchLabel}
              onChange={(value) => update({ filters: { match: value } })}
              testId="filter-match"
            />
            <SelectFilter
              label="Exploited (KEV)"
              value={kev}
              options={['true', 'false']}
              optionLabel={(value) => (value === 'true' ? 'Exploited in the wild' : 'Not listed')}
              onChange={(value) => update({ filters: { kev: value } })}
              testId="filter-kev"
            />
          </>
        }
        empty={
          <Body1 className={styles.empty} data-testid="vulnerabilities-empty">
            {emptyText(coverage, filtered)}
          </Body1>
        }
      />
      <VulnerabilityFlyout
        deviceId={device.id}
        findingId={state.item}
        onClose={() => update({ item: null })}
        onChanged={retry}
      />
    </>
  );
}
