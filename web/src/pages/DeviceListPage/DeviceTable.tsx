import {
  Caption1,
  Table,
  TableBody,
  TableCell,
  TableCellLayout,
  TableHeader,
  TableHeaderCell,
  TableRow,
  makeStyles,
  tokens,
  useArrowNavigationGroup,
} from '@fluentui/react-components';
import type { KeyboardEvent, MouseEvent } from 'react';
import { useNavigate } from 'react-router';

import type { DeviceSort, DeviceSummary } from '../../api/types';
import { AppLink } from '../../components/AppLink/AppLink';
import { DateTime } from '../../components/DateTime/DateTime';
import { HealthBadge } from '../../components/HealthBadge/HealthBadge';
import { LevelBadge } from '../../components/LevelBadge/LevelBadge';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { SourceList } from '../../components/SourceList/SourceList';
import { TagList } from '../../components/TagList/TagList';
import { osLabel } from '../../lib/labels';
import { nextSort, sortDirection } from './listParams';
import type { SortColumn } from './listParams';

const useStyles = makeStyles({
  table: { minWidth: '1240px' },
  row: {
    cursor: 'pointer',
    ':focus-visible': {
      outline: `${tokens.strokeWidthThick} solid ${tokens.colorStrokeFocus2}`,
      outlineOffset: `calc(-1 * ${tokens.strokeWidthThick})`,
    },
  },
  name: { fontWeight: tokens.fontWeightSemibold, color: tokens.colorNeutralForeground1 },
  secondary: { display: 'block', color: tokens.colorNeutralForeground3 },
  cellText: { overflowWrap: 'anywhere' },
});

// Widths keep the data-dense columns readable; name and tags take what is left.
const COLUMNS: { key: string; label: string; width?: string; sort?: SortColumn }[] = [
  { key: 'name', label: 'Name', sort: 'name' },
  { key: 'domain', label: 'Domain', width: '120px' },
  { key: 'os', label: 'OS', width: '170px' },
  { key: 'health', label: 'Health', width: '115px' },
  { key: 'risk', label: 'Risk', width: '90px' },
  { key: 'exposure', label: 'Exposure', width: '90px' },
  { key: 'tags', label: 'Tags', width: '220px' },
  { key: 'last_seen', label: 'Last seen', width: '130px', sort: 'last_seen' },
  { key: 'sources', label: 'Sources', width: '130px' },
];

interface DeviceTableProps {
  devices: DeviceSummary[];
  sort: DeviceSort;
  onSort: (sort: DeviceSort) => void;
}

export function DeviceTable({ devices, sort, onSort }: DeviceTableProps) {
  const styles = useStyles();
  const navigate = useNavigate();
  const arrowNavigation = useArrowNavigationGroup({ axis: 'vertical', memorizeCurrent: true });

  const open = (device: DeviceSummary) => {
    void navigate(`/devices/${encodeURIComponent(device.id)}`);
  };

  const onRowClick = (event: MouseEvent<HTMLTableRowElement>, device: DeviceSummary) => {
    // The name link handles its own clicks (including "open in new tab").
    if ((event.target as HTMLElement).closest('a') !== null) {
      return;
    }
    open(device);
  };

  const onRowKeyDown = (event: KeyboardEvent<HTMLTableRowElement>, device: DeviceSummary) => {
    if (event.key === 'Enter' && event.target === event.currentTarget) {
      event.preventDefault();
      open(device);
    }
  };

  return (
    <Table size="small" aria-label="Devices" className={styles.table}>
      <TableHeader>
        <TableRow>
          {COLUMNS.map((column) => {
            const sortColumn = column.sort;
            return sortColumn === undefined ? (
              <TableHeaderCell key={column.key} style={{ width: column.width }}>
                {column.label}
              </TableHeaderCell>
            ) : (
              <TableHeaderCell
                key={column.key}
                style={{ width: column.width }}
                sortable
                sortDirection={sortDirection(sort, sortColumn)}
                onClick={() => onSort(nextSort(sort, sortColumn))}
              >
                {column.label}
              </TableHeaderCell>
            );
          })}
        </TableRow>
      </TableHeader>
      <TableBody {...arrowNavigation}>
        {devices.map((device) => {
          const os = osLabel(device);
          return (
            <TableRow
              key={device.id}
              className={styles.row}
              tabIndex={0}
              data-testid="device-row"
              data-device-id={device.id}
              onClick={(event) => onRowClick(event, device)}
              onKeyDown={(event) => onRowKeyDown(event, device)}
            >
              <TableCell>
                <TableCellLayout>
                  <AppLink
                    to={`/devices/${encodeURIComponent(device.id)}`}
                    className={styles.name}
                    tabIndex={-1}
                  >
                    {device.name}
                  </AppLink>
                  {device.fqdn !== null && device.fqdn !== device.name && (
                    <Caption1 className={styles.secondary}>{device.fqdn}</Caption1>
                  )}
                </TableCellLayout>
              </TableCell>
              <TableCell className={styles.cellText}>
                {device.domain ?? <NotKnown>Unknown</NotKnown>}
              </TableCell>
              <TableCell className={styles.cellText}>
                {os ?? <NotKnown>Unknown</NotKnown>}
              </TableCell>
              <TableCell>
                <HealthBadge state={device.health_state} />
              </TableCell>
              <TableCell>
                <LevelBadge level={device.risk_level} />
              </TableCell>
              <TableCell>
                <LevelBadge level={device.exposure_level} />
              </TableCell>
              <TableCell>
                <TagList tags={device.tags} limit={3} size="extra-small" />
              </TableCell>
              <TableCell>
                <DateTime value={device.last_seen} relative missing="Never" />
              </TableCell>
              <TableCell>
                <SourceList sources={device.sources} />
              </TableCell>
            </TableRow>
          );
        })}
      </TableBody>
    </Table>
  );
}
