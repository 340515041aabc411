// Where each node of an event's process tree goes: the process's ancestors in a column
// above it, the processes it started in rows below, the user who ran it on its left and
// what the event touched (file, registry key, address, DNS name) on its right. Pure, so it
// is tested; the component only draws what this returns.

import type { ProcessTree, ProcessTreeEdge, ProcessTreeNode } from '../../api/types';

export const NODE_WIDTH = 188;
export const NODE_HEIGHT = 46;
const GAP_X = 44;
const GAP_Y = 34;
const COLUMNS = 3;
const CHILDREN_PER_ROW = COLUMNS;
const LABEL_LENGTH = 24;

export type NodeRole = 'ancestor' | 'focus' | 'child' | 'user' | 'target' | 'other';

export interface PlacedNode {
  node: ProcessTreeNode;
  role: NodeRole;
  /** The box's top-left corner. */
  x: number;
  y: number;
}

export interface Point {
  x: number;
  y: number;
}

export interface PlacedEdge {
  edge: ProcessTreeEdge;
  from: Point;
  to: Point;
  /** The relation, written beside the line; null for "created", which the layout shows. */
  label: string | null;
}

export interface TreeLayout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

const TARGET_TYPES = new Set<ProcessTreeNode['type']>(['file', 'registry', 'network', 'dns']);

function column(index: number): number {
  return index * (NODE_WIDTH + GAP_X);
}

function row(index: number): number {
  return index * (NODE_HEIGHT + GAP_Y);
}

/** The parents, from the top of the tree down to the focus's own parent. */
function ancestorsOf(focus: string, parentOf: Map<string, string>): string[] {
  const chain: string[] = [];
  const seen = new Set([focus]);
  let current = parentOf.get(focus);
  while (current !== undefined && !seen.has(current)) {
    chain.unshift(current);
    seen.add(current);
    current = parentOf.get(current);
  }
  return chain;
}

/** The point on a box's edge that faces another box. */
function anchor(box: PlacedNode, other: PlacedNode): Point {
  const cx = box.x + NODE_WIDTH / 2;
  const cy = box.y + NODE_HEIGHT / 2;
  const dx = other.x - box.x;
  const dy = other.y - box.y;
  if (Math.abs(dx) * NODE_HEIGHT > Math.abs(dy) * NODE_WIDTH) {
    return { x: dx > 0 ? box.x + NODE_WIDTH : box.x, y: cy };
  }
  return { x: cx, y: dy > 0 ? box.y + NODE_HEIGHT : box.y };
}

export function layoutTree(tree: ProcessTree): TreeLayout {
  const byId = new Map(tree.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<string, string>();
  for (const edge of tree.edges) {
    if (edge.relation === 'created' && byId.has(edge.from)) parentOf.set(edge.to, edge.from);
  }
  const user = tree.nodes.find((node) => node.type === 'user');
  // Without a process, the event centres on its user, or on whatever it has.
  const focusId = tree.focus ?? user?.id ?? tree.nodes[0]?.id;
  if (focusId === undefined || !byId.has(focusId)) {
    return { nodes: [], edges: [], width: 0, height: 0 };
  }

  const placed = new Map<string, PlacedNode>();
  const place = (id: string, role: NodeRole, x: number, y: number) => {
    const node = byId.get(id);
    if (node !== undefined && !placed.has(id)) placed.set(id, { node, role, x, y });
  };

  const ancestors = ancestorsOf(focusId, parentOf);
  ancestors.forEach((id, i) => place(id, 'ancestor', column(1), row(i)));
  const focusRow = ancestors.length;
  place(focusId, 'focus', column(1), row(focusRow));
  if (user !== undefined && user.id !== focusId) place(user.id, 'user', column(0), row(focusRow));

  const targets = tree.nodes.filter((node) => TARGET_TYPES.has(node.type) && !placed.has(node.id));
  targets.forEach((node, i) => place(node.id, 'target', column(2), row(focusRow + i)));

  const children = tree.edges
    .filter((edge) => edge.from === focusId && edge.relation === 'created')
    .map((edge) => edge.to)
    .filter((id) => !placed.has(id));
  const firstChildRow = focusRow + Math.max(1, targets.length);
  children.forEach((id, i) => {
    const inRow = Math.min(CHILDREN_PER_ROW, children.length - i + (i % CHILDREN_PER_ROW));
    // A row of fewer than three stays under the process, in the middle.
    const offset = inRow === 1 ? 1 : inRow === 2 ? 0.5 : 0;
    const at = (i % CHILDREN_PER_ROW) + offset;
    place(
      id,
      'child',
      at * (NODE_WIDTH + GAP_X),
      row(firstChildRow + Math.floor(i / CHILDREN_PER_ROW)),
    );
  });

  // Anything the server linked some other way goes in rows at the bottom.
  const rest = tree.nodes.filter((node) => !placed.has(node.id));
  const lastRow = Math.max(...[...placed.values()].map((p) => p.y / (NODE_HEIGHT + GAP_Y)));
  rest.forEach((node, i) =>
    place(node.id, 'other', column(i % COLUMNS), row(lastRow + 1 + Math.floor(i / COLUMNS))),
  );

  const nodes = [...placed.values()];
  const edges: PlacedEdge[] = [];
  for (const edge of tree.edges) {
    const from = placed.get(edge.from);
    const to = placed.get(edge.to);
    if (from === undefined || to === undefined) continue;
    edges.push({
      edge,
      from: anchor(from, to),
      to: anchor(to, from),
      label: edge.relation === 'created' ? null : edge.relation,
    });
  }
  return {
    nodes,
    edges,
    width: column(COLUMNS - 1) + NODE_WIDTH,
    height: Math.max(...nodes.map((p) => p.y)) + NODE_HEIGHT,
  };
}

/** A label short enough for its box; the full text stays in the node's tooltip. */
export function shortLabel(text: string, length: number = LABEL_LENGTH): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}
