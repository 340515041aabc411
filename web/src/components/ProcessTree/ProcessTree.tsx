import { Caption1, makeStyles, mergeClasses, tokens } from '@fluentui/react-components';
import { useId, useState } from 'react';
import type { KeyboardEvent } from 'react';

import type { ProcessTree as Tree, ProcessTreeNode } from '../../api/types';
import { DateTime } from '../DateTime/DateTime';
import { PropertyList } from '../PropertyList/PropertyList';
import { NODE_HEIGHT, NODE_WIDTH, layoutTree, shortLabel } from './layout';
import type { NodeRole, PlacedNode } from './layout';

const PAD = 8;

const useStyles = makeStyles({
  root: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS },
  scroll: { overflowX: 'auto' },
  svg: { display: 'block', maxWidth: '100%', height: 'auto' },
  box: {
    fill: tokens.colorNeutralBackground1,
    stroke: tokens.colorNeutralStroke1,
    strokeWidth: 1,
  },
  focusBox: {
    fill: tokens.colorBrandBackground2,
    stroke: tokens.colorBrandStroke1,
    strokeWidth: 2,
  },
  targetBox: { strokeDasharray: '4 3' },
  selectedBox: { stroke: tokens.colorNeutralForeground1, strokeWidth: 2 },
  node: {
    cursor: 'pointer',
    outlineStyle: 'none',
    ':focus-visible > rect': { stroke: tokens.colorStrokeFocus2, strokeWidth: 3 },
  },
  label: { fill: tokens.colorNeutralForeground1, fontSize: '13px', fontWeight: 600 },
  kind: { fill: tokens.colorNeutralForeground2, fontSize: '11px' },
  edge: { stroke: tokens.colorNeutralForeground3, strokeWidth: 1.5, fill: 'none' },
  arrow: { fill: tokens.colorNeutralForeground3 },
  relation: { fill: tokens.colorNeutralForeground2, fontSize: '11px' },
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200 },
  muted: { color: tokens.colorNeutralForeground3 },
});

const PROCESS_WORDS: Partial<Record<NodeRole, string>> = {
  ancestor: 'parent process',
  focus: 'this event’s process',
  child: 'child process',
};

/** The small line under a box's label: what the node is to the event. */
function kindLine(placed: PlacedNode): string {
  const { node, role } = placed;
  if (node.type === 'process') {
    const words = PROCESS_WORDS[role] ?? 'process';
    const pid = node.details['pid'];
    return typeof pid === 'number' ? `${words} · pid ${pid}` : words;
  }
  return role === 'focus' ? `${node.type} · this event` : node.type;
}

const DETAIL_LABELS: Record<string, string> = {
  image: 'Image',
  command_line: 'Command line',
  pid: 'Process id',
  guid: 'Process guid',
  user: 'User',
  sha256: 'SHA-256',
  started: 'Started',
  event_id: 'Creation event',
  key: 'Registry key',
  value: 'Registry value',
  remote_address: 'Remote address',
  remote_port: 'Remote port',
  local_address: 'Local address',
  local_port: 'Local port',
};

function NodeDetails({ node }: { node: ProcessTreeNode }) {
  const styles = useStyles();
  const items = Object.entries(node.details)
    .filter(([, value]) => value !== null && value !== undefined && value !== '')
    .map(([key, value]) => ({
      label: DETAIL_LABELS[key] ?? key,
      value:
        key === 'started' && typeof value === 'string' ? (
          <DateTime value={value} />
        ) : (
          <span className={styles.mono}>
            {typeof value === 'object' ? JSON.stringify(value) : String(value)}
          </span>
        ),
      testId: `tree-detail-${key}`,
    }));
  return (
    <PropertyList
      items={[{ label: 'Name', value: node.label, testId: 'tree-detail-name' }, ...items]}
    />
  );
}

/**
 * An event's process tree as a graph: the process's ancestors above it, the processes it
 * started below, its user on the left and what the event touched on the right. Each box is
 * a button (Tab, then Enter or Space) that shows its node's details below the graph. Every
 * label is drawn as text, never markup.
 */
export function ProcessTree({ tree }: { tree: Tree }) {
  const styles = useStyles();
  const titleId = useId();
  const markerId = useId().replace(/:/g, '');
  const layout = layoutTree(tree);
  const focusId = layout.nodes.find((p) => p.role === 'focus')?.node.id ?? null;
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const selected = layout.nodes.find((p) => p.node.id === (selectedId ?? focusId))?.node ?? null;

  if (layout.nodes.length === 0) {
    return (
      <Caption1 className={styles.muted}>This event names no process, user or target.</Caption1>
    );
  }

  const onKeyDown = (event: KeyboardEvent<SVGGElement>, id: string) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      setSelectedId(id);
    }
  };

  const width = layout.width + PAD * 2;
  const height = layout.height + PAD * 2;
  return (
    <div className={styles.root}>
      <div className={styles.scroll}>
        <svg
          className={styles.svg}
          width={width}
          height={height}
          viewBox={`${-PAD} ${-PAD} ${width} ${height}`}
          role="group"
          aria-labelledby={titleId}
          data-testid="process-tree"
        >
          <title id={titleId}>Process tree of the event</title>
          <defs>
            <marker
              id={markerId}
              viewBox="0 0 10 10"
              refX="10"
              refY="5"
              markerWidth="7"
              markerHeight="7"
              orient="auto-start-reverse"
            >
              <path d="M 0 0 L 10 5 L 0 10 z" className={styles.arrow} />
            </marker>
          </defs>
          {layout.edges.map(({ edge, from, to, label }, i) => (
            <g key={`${edge.from}-${edge.to}-${i}`} aria-hidden="true">
              <line
                x1={from.x}
                y1={from.y}
                x2={to.x}
                y2={to.y}
                className={styles.edge}
                markerEnd={`url(#${markerId})`}
              />
              {label !== null && (
                <text
                  x={(from.x + to.x) / 2}
                  y={(from.y + to.y) / 2 - 6}
                  textAnchor="middle"
                  className={styles.relation}
                >
                  {shortLabel(label, 20)}
                </text>
              )}
            </g>
          ))}
          {layout.nodes.map((placed) => {
            const { node, role, x, y } = placed;
            const isSelected = selected?.id === node.id;
            return (
              <g
                key={node.id}
                role="button"
                tabIndex={0}
                aria-pressed={isSelected}
                className={styles.node}
                transform={`translate(${x} ${y})`}
                onClick={() => setSelectedId(node.id)}
                onKeyDown={(event) => onKeyDown(event, node.id)}
                data-testid="tree-node"
                data-node-role={role}
                data-node-type={node.type}
              >
                <rect
                  width={NODE_WIDTH}
                  height={NODE_HEIGHT}
                  rx={role === 'user' ? NODE_HEIGHT / 2 : 6}
                  className={mergeClasses(
                    styles.box,
                    role === 'focus' && styles.focusBox,
                    role === 'target' && styles.targetBox,
                    isSelected && styles.selectedBox,
                  )}
                  aria-hidden="true"
                >
                  {/* The whole label on hover; the box's name is its visible text. */}
                  <title>{node.label}</title>
                </rect>
                <text x={12} y={19} className={styles.label}>
                  {shortLabel(node.label)}
                </text>
                <text x={12} y={36} className={styles.kind}>
                  {kindLine(placed)}
                </text>
              </g>
            );
          })}
        </svg>
      </div>
      {tree.truncated && (
        <Caption1 className={styles.muted} data-testid="tree-truncated">
          The tree is cut short: it has more ancestors or children than are drawn.
        </Caption1>
      )}
      {selected !== null && (
        <section aria-label="Selected node" data-testid="tree-selected">
          <NodeDetails node={selected} />
        </section>
      )}
    </div>
  );
}
