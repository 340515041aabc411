import { Badge, Body1, Field, Select, makeStyles, tokens } from '@fluentui/react-components';
import { useId } from 'react';
import { useSearchParams } from 'react-router';

import { listSoftware } from '../../api/client';
import type { DeviceDetail, SoftwareItem, SoftwareSort } from '../../api/types';
import { DataTable } from '../../components/DataTable/DataTable';
import type { DataColumn } from '../../components/DataTable/DataTable';
import { TableSearch } from '../../components/DataTable/TableSearch';
import { hasActiveFilters, offsetOf } from '../../components/DataTable/tableState';
import type { TableSpec } from '../../components/DataTable/tableState';
import { useTableState } from '../../components/DataTable/useTableState';
import { DateTime } from '../../components/DateTime/DateTime';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { useApiQuery } from '../../hooks/useApiQuery';
import { formatCount, formatUtcTime, parseApiTime } from '../../lib/format';
import { SOFTWARE_SOURCES, softwareSourceLabel } from '../../lib/labels';
import { softwareNote } from './deviceNotes';
import { SoftwareFlyout } from './SoftwareFlyout';

const useStyles = makeStyles({
  empty: {
    padding: tokens.spacingVerticalXL,
    border: `${tokens.strokeWidthThin} dashed ${tokens.colorNeutralStroke1}`,
    borderRadius: tokens.borderRadiusMedium,
  },
  source: { minWidth: '180px' },
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200 },
});

const SORTS: readonly SoftwareSort[] = ['name', '-name', 'vendor', '-vendor', 'source', '-source'];

export const SOFTWARE_TABLE: TableSpec = {
  sorts: SORTS,
  defaultSort: 'name',
  filters: { q: null, source: SOFTWARE_SOURCES, product_code: null },
};

function text(value: string | null) {
  return value ?? <NotKnown>Not reported</NotKnown>;
}

function timeText(value: string): string {
  const date = parseApiTime(value);
  return date === null ? value : formatUtcTime(date);
}

function useColumns(): DataColumn<SoftwareItem>[] {
  const styles = useStyles();
  return [
    {
      id: 'vendor',
      label: 'Vendor',
      sort: 'vendor',
      width: '200px',
      render: (item) => text(item.vendor),
      csv: (item) => item.vendor ?? '',
    },
    {
      id: 'name',
      label: 'Name',
      sort: 'name',
      alwaysVisible: true,
      render: (item) => item.name,
      csv: (item) => item.name,
    },
    {
      id: 'version',
      label: 'Version',
      width: '180px',
      render: (item) => text(item.version),
      csv: (item) => item.version ?? '',
    },
    {
      id: 'source',
      label: 'Source',
      sort: 'source',
      width: '190px',
      render: (item) => softwareSourceLabel(item.source),
      csv: (item) => item.source,
    },
    {
      id: 'weaknesses',
      label: 'Weaknesses',
      width: '110px',
      render: (item) => formatCount(item.weaknesses),
      csv: (item) => String(item.weaknesses),
    },
    {
      id: 'exploited',
      label: 'Threat insights',
      width: '160px',
      render: (item) =>
        item.exploited ? (
          <Badge appearance="tint" shape="rounded" color="danger">
            Exploited in the wild
          </Badge>
        ) : (
          <NotKnown>None known</NotKnown>
        ),
      csv: (item) => (item.exploited ? 'exploited' : ''),
    },
    {
      id: 'product_code',
      label: 'Product code',
      defaultVisible: false,
      render: (item) =>
        item.product_code === null ? (
          <NotKnown>None</NotKnown>
        ) : (
          <span className={styles.mono}>{item.product_code}</span>
        ),
      csv: (item) => item.product_code ?? '',
    },
    {
      id: 'arch',
      label: 'Architecture',
      width: '120px',
      render: (item) => text(item.arch),
      csv: (item) => item.arch ?? '',
    },
    {
      id: 'install_path',
      label: 'Install path',
      defaultVisible: false,
      render: (item) =>
        item.install_path === null ? (
          <NotKnown>Not reported</NotKnown>
        ) : (
          <span className={styles.mono}>{item.install_path}</span>
        ),
      csv: (item) => item.install_path ?? '',
    },
    {
      id: 'last_seen',
      label: 'Last seen',
      width: '130px',
      defaultVisible: false,
      render: (item) => <DateTime value={item.last_seen} relative />,
      csv: (item) => timeText(item.last_seen),
    },
  ];
}

/** Software installed on the device, from the agent's latest inventory. */
export function SoftwareTab({ device }: { device: DeviceDetail }) {
  const styles = useStyles();
  const sourceId = useId();
  const columns = useColumns();
  const [state, update] = useTableState(SOFTWARE_TABLE);
  const [, setParams] = useSearchParams();
  const query = {
    q: state.filters['q'] || null,
    source: state.filters['source'] || null,
    product_code: state.filters['product_code'] || null,
    sort: state.sort as SoftwareSort,
    limit: state.pageSize,
    offset: offsetOf(state),
  };
  const [result, retry] = useApiQuery(
    (signal) => listSoftware(device.id, query, signal),
    [device.id, JSON.stringify(query)],
  );
  const rows = result.status === 'ok' ? result.data.items : [];
  const filtered = hasActiveFilters(state);

  return (
    <>
      <DataTable
        tableId="device.software"
        label="Software inventory"
        noun="software items"
        testId="software-table"
        columns={columns}
        state={state}
        onChange={update}
        result={result}
        onRetry={retry}
        rowKey={(item) => String(item.id)}
        rowLabel={(item) => `Select ${item.name}`}
        onOpen={(item) => update({ item: String(item.id) })}
        filters={
          <>
            <TableSearch
              label="Search"
              placeholder="Name or vendor"
              value={state.filters['q'] ?? ''}
              onSearch={(q) => update({ filters: { q } }, { replace: true })}
              testId="software-search"
            />
            <TableSearch
              label="Product code"
              placeholder="pkg:pypi/werkzeug or a CPE"
              value={state.filters['product_code'] ?? ''}
              onSearch={(code) => update({ filters: { product_code: code } }, { replace: true })}
              testId="filter-product-code"
            />
            <Field label={{ children: 'Source', htmlFor: sourceId }} className={styles.source}>
              <Select
                id={sourceId}
                value={state.filters['source'] ?? ''}
                onChange={(_, data) => update({ filters: { source: data.value } })}
                data-testid="filter-source"
              >
                <option value="">All</option>
                {SOFTWARE_SOURCES.map((source) => (
                  <option key={source} value={source}>
                    {softwareSourceLabel(source)}
                  </option>
                ))}
              </Select>
            </Field>
          </>
        }
        empty={
          <Body1 className={styles.empty} data-testid="software-empty">
            {filtered ? 'No software matches these filters.' : softwareNote(device)}
          </Body1>
        }
      />
      <SoftwareFlyout
        deviceId={device.id}
        itemId={state.item}
        rows={rows}
        onClose={() => update({ item: null })}
        onOpenFinding={(findingId) =>
          setParams(new URLSearchParams({ tab: 'vulnerabilities', item: String(findingId) }))
        }
      />
    </>
  );
}
