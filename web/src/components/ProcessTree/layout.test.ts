import { describe, expect, it } from 'vitest';

import type { ProcessTree, ProcessTreeNode } from '../../api/types';
import { NODE_HEIGHT, NODE_WIDTH, layoutTree, shortLabel } from './layout';

function node(id: string, type: ProcessTreeNode['type'] = 'process'): ProcessTreeNode {
  return { id, type, label: id, details: {} };
}

function tree(nodes: ProcessTreeNode[], edges: [string, string, string][], focus: string | null) {
  return {
    event_id: 1,
    device_id: 'd',
    focus,
    truncated: false,
    nodes,
    edges: edges.map(([from, to, relation]) => ({ from, to, relation })),
  } satisfies ProcessTree;
}

/** explorer → cmd → powershell (the event's process) → whoami, net; alice ran it; a file. */
const CHAIN = tree(
  [
    node('ps'),
    node('cmd'),
    node('explorer'),
    node('whoami'),
    node('net'),
    node('alice', 'user'),
    node('payload.dll', 'file'),
  ],
  [
    ['cmd', 'ps', 'created'],
    ['explorer', 'cmd', 'created'],
    ['ps', 'whoami', 'created'],
    ['ps', 'net', 'created'],
    ['alice', 'ps', 'ran'],
    ['ps', 'payload.dll', 'FileCreated'],
  ],
  'ps',
);

function placed(layout: ReturnType<typeof layoutTree>) {
  return Object.fromEntries(layout.nodes.map((p) => [p.node.id, p]));
}

describe('layoutTree', () => {
  it('puts ancestors above, children below, the user left and the target right', () => {
    const at = placed(layoutTree(CHAIN));

    expect(at['explorer']?.role).toBe('ancestor');
    expect(at['cmd']?.role).toBe('ancestor');
    expect(at['ps']?.role).toBe('focus');
    expect(at['explorer']!.y).toBeLessThan(at['cmd']!.y);
    expect(at['cmd']!.y).toBeLessThan(at['ps']!.y);
    expect(at['explorer']!.x).toBe(at['ps']!.x);
    expect(at['whoami']?.role).toBe('child');
    expect(at['whoami']!.y).toBeGreaterThan(at['ps']!.y);
    expect(at['net']!.y).toBe(at['whoami']!.y);
    expect(at['alice']).toMatchObject({ role: 'user', y: at['ps']!.y });
    expect(at['alice']!.x).toBeLessThan(at['ps']!.x);
    expect(at['payload.dll']).toMatchObject({ role: 'target', y: at['ps']!.y });
    expect(at['payload.dll']!.x).toBeGreaterThan(at['ps']!.x);
  });

  it('keeps boxes apart and inside the drawing', () => {
    const layout = layoutTree(CHAIN);
    for (const a of layout.nodes) {
      expect(a.x + NODE_WIDTH).toBeLessThanOrEqual(layout.width);
      expect(a.y + NODE_HEIGHT).toBeLessThanOrEqual(layout.height);
      for (const b of layout.nodes) {
        if (a === b) continue;
        const apart = a.x + NODE_WIDTH <= b.x || b.x + NODE_WIDTH <= a.x;
        expect(apart || a.y + NODE_HEIGHT <= b.y || b.y + NODE_HEIGHT <= a.y).toBe(true);
      }
    }
  });

  it('draws edges from parent to child and labels all but "created"', () => {
    const layout = layoutTree(CHAIN);
    const at = placed(layout);
    const parentEdge = layout.edges.find((e) => e.edge.from === 'cmd' && e.edge.to === 'ps')!;
    const fileEdge = layout.edges.find((e) => e.edge.to === 'payload.dll')!;

    expect(layout.edges).toHaveLength(6);
    expect(parentEdge.label).toBeNull();
    expect(parentEdge.from.y).toBe(at['cmd']!.y + NODE_HEIGHT);
    expect(parentEdge.to.y).toBe(at['ps']!.y);
    expect(fileEdge.label).toBe('FileCreated');
    expect(fileEdge.from.x).toBe(at['ps']!.x + NODE_WIDTH);
  });

  it('wraps many children into rows of three and centres a short last row', () => {
    const kids = ['a', 'b', 'c', 'd'].map((id) => node(id));
    const layout = layoutTree(
      tree(
        [node('p'), ...kids],
        kids.map((k) => ['p', k.id, 'created'] as [string, string, string]),
        'p',
      ),
    );
    const at = placed(layout);

    expect(at['a']!.y).toBe(at['c']!.y);
    expect(at['d']!.y).toBeGreaterThan(at['a']!.y);
    expect(at['d']!.x).toBe(at['p']!.x);
  });

  it('centres an event without a process on its user, and survives loops', () => {
    const logon = layoutTree(
      tree([node('bob', 'user'), node('10.0.0.1:445', 'network')], [], null),
    );
    expect(placed(logon)['bob']?.role).toBe('focus');
    expect(placed(logon)['10.0.0.1:445']?.role).toBe('target');

    const loop = layoutTree(
      tree(
        [node('x'), node('y')],
        [
          ['x', 'y', 'created'],
          ['y', 'x', 'created'],
        ],
        'x',
      ),
    );
    expect(loop.nodes).toHaveLength(2);
    expect(layoutTree(tree([], [], null)).nodes).toEqual([]);
  });
});

describe('shortLabel', () => {
  it('cuts long labels with an ellipsis', () => {
    expect(shortLabel('cmd.exe')).toBe('cmd.exe');
    expect(shortLabel('a'.repeat(30), 10)).toBe(`${'a'.repeat(9)}…`);
  });
});
