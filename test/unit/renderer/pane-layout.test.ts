/**
 * Split panes' layout (renderer/src/tabs/pane-layout.ts), alone: where each pane goes, which pane is
 * next in a direction, a closed pane giving its room back, and the groups saved as indexes into the
 * saved tabs and loaded back (tabs missing from the load leave their sibling whole).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PaneLayout } from '../../../renderer/src/tabs/pane-layout.js';

test('a split halves the pane: row to the right, column below; a tab in no group has the whole area', () => {
  const panes = new PaneLayout();
  assert.deepEqual([...panes.visibleWith('a')], [['a', { left: 0, top: 0, width: 1, height: 1 }]]);
  panes.split('a', 'b', 'row');
  panes.split('a', 'c', 'column');
  assert.deepEqual(Object.fromEntries(panes.visibleWith('b')), {
    a: { left: 0, top: 0, width: 0.5, height: 0.5 },
    c: { left: 0, top: 0.5, width: 0.5, height: 0.5 },
    b: { left: 0.5, top: 0, width: 0.5, height: 1 },
  });
  assert.equal(panes.groupOf('d'), undefined);
  assert.deepEqual([...panes.visibleWith('d').keys()], ['d'], 'another tab is shown alone');
});

test('neighbours: the nearest pane in the direction asked, none past the edge', () => {
  const panes = new PaneLayout();
  panes.split('a', 'b', 'row');
  panes.split('a', 'c', 'column');
  assert.equal(panes.neighbour('a', 'right'), 'b');
  assert.equal(panes.neighbour('a', 'down'), 'c');
  assert.equal(panes.neighbour('c', 'up'), 'a');
  assert.equal(panes.neighbour('b', 'left'), 'a');
  assert.equal(panes.neighbour('a', 'left'), undefined);
  assert.equal(panes.neighbour('b', 'right'), undefined);
});

test('a closed pane gives its room to its sibling; a group of one is no group', () => {
  const panes = new PaneLayout();
  let changes = 0;
  panes.onChange(() => changes++);
  panes.split('a', 'b', 'row');
  panes.split('a', 'c', 'column');
  panes.remove('c');
  assert.deepEqual(Object.fromEntries(panes.visibleWith('a')), {
    a: { left: 0, top: 0, width: 0.5, height: 1 },
    b: { left: 0.5, top: 0, width: 0.5, height: 1 },
  });
  panes.remove('b');
  assert.equal(panes.groupOf('a'), undefined);
  assert.equal(changes, 4);
});

test('saved as indexes into the saved tabs and loaded back onto new ids; a tab that did not come back leaves its sibling whole', () => {
  const panes = new PaneLayout();
  panes.split('a', 'b', 'row');
  panes.split('b', 'c', 'column');
  const saved = panes.save(['x', 'a', 'b', 'c']);
  assert.deepEqual(saved, [{ split: 'row', children: [{ tab: 1 }, { split: 'column', children: [{ tab: 2 }, { tab: 3 }] }] }]);
  assert.deepEqual(panes.save(['a', 'b']), [], 'a group with a tab not saved is left out');
  const again = new PaneLayout();
  again.load(saved, ['X', 'A', 'B', 'C']);
  assert.deepEqual(Object.fromEntries(again.visibleWith('C')), {
    A: { left: 0, top: 0, width: 0.5, height: 1 },
    B: { left: 0.5, top: 0, width: 0.5, height: 0.5 },
    C: { left: 0.5, top: 0.5, width: 0.5, height: 0.5 },
  });
  const partial = new PaneLayout();
  partial.load(saved, ['X', 'A', undefined, 'C']);
  assert.deepEqual([...partial.visibleWith('A').keys()], ['A', 'C']);
});
