/**
 * Split panes: groups of tabs shown side by side (`row`) or stacked (`column`), each group a binary
 * tree whose leaves are tab ids. Switching to a tab of a group shows the whole group, the chosen
 * tab focused; a tab in no group stands alone. Splits are even halves. The layout keeps its own
 * state and says when it changed; the tab set places the panels.
 */
import { Emitter, type Disposable } from '../base/emitter';

export type SplitDirection = 'row' | 'column';
/** A group as saved (host API's PaneNode): a leaf is a tab's index in the saved list. */
export type PaneNode = { tab: number } | { split: SplitDirection; children: [PaneNode, PaneNode] };
export type PaneTree = { tab: string } | { split: SplitDirection; children: [PaneTree, PaneTree] };

/** Where a pane sits in its group, as fractions of the panels' area. */
export interface PaneRect {
  left: number;
  top: number;
  width: number;
  height: number;
}

export type PaneDirection = 'left' | 'right' | 'up' | 'down';

function leaves(tree: PaneTree): string[] {
  return 'tab' in tree ? [tree.tab] : [...leaves(tree.children[0]), ...leaves(tree.children[1])];
}

function contains(tree: PaneTree, id: string): boolean {
  return leaves(tree).includes(id);
}

/** `tree` without the leaf `id` (its sibling takes the parent's place); undefined when nothing is left. */
function without(tree: PaneTree, id: string): PaneTree | undefined {
  if ('tab' in tree) return tree.tab === id ? undefined : tree;
  const [a, b] = tree.children.map((child) => without(child, id));
  if (!a) return b;
  if (!b) return a;
  return { split: tree.split, children: [a, b] };
}

function replaced(tree: PaneTree, id: string, by: PaneTree): PaneTree {
  if ('tab' in tree) return tree.tab === id ? by : tree;
  return { split: tree.split, children: [replaced(tree.children[0], id, by), replaced(tree.children[1], id, by)] };
}

function place(tree: PaneTree, rect: PaneRect, out: Map<string, PaneRect>): void {
  if ('tab' in tree) {
    out.set(tree.tab, rect);
    return;
  }
  const [a, b] = tree.children;
  if (tree.split === 'row') {
    place(a, { ...rect, width: rect.width / 2 }, out);
    place(b, { ...rect, left: rect.left + rect.width / 2, width: rect.width / 2 }, out);
  } else {
    place(a, { ...rect, height: rect.height / 2 }, out);
    place(b, { ...rect, top: rect.top + rect.height / 2, height: rect.height / 2 }, out);
  }
}

export class PaneLayout implements Disposable {
  private groups: PaneTree[] = [];
  private readonly changeEmitter = new Emitter<void>();
  readonly onChange = this.changeEmitter.event;

  /** The group `id` is in, or undefined when it stands alone. */
  groupOf(id: string): PaneTree | undefined {
    return this.groups.find((g) => contains(g, id));
  }

  /** The panes shown with `id`: each tab of its group with its place (the whole area when alone). */
  visibleWith(id: string): Map<string, PaneRect> {
    const out = new Map<string, PaneRect>();
    place(this.groupOf(id) ?? { tab: id }, { left: 0, top: 0, width: 1, height: 1 }, out);
    return out;
  }

  /** `added` is put beside `beside`, halving its pane: to its right (`row`) or below it (`column`). */
  split(beside: string, added: string, direction: SplitDirection): void {
    this.remove(added, false);
    const pair: PaneTree = { split: direction, children: [{ tab: beside }, { tab: added }] };
    const group = this.groupOf(beside);
    if (group) this.groups = this.groups.map((g) => (g === group ? replaced(g, beside, pair) : g));
    else this.groups.push(pair);
    this.changeEmitter.fire();
  }

  /** The tab leaves its group (closed, or taken out); a group of one is no group. */
  remove(id: string, notify = true): void {
    const group = this.groupOf(id);
    if (!group) return;
    const rest = without(group, id);
    this.groups = this.groups.flatMap((g) => (g !== group ? [g] : rest && !('tab' in rest) ? [rest] : []));
    if (notify) this.changeEmitter.fire();
  }

  /** The pane next to `id` in `direction` within its group, if any. */
  neighbour(id: string, direction: PaneDirection): string | undefined {
    const rects = this.visibleWith(id);
    const from = rects.get(id);
    if (!from) return undefined;
    const cx = from.left + from.width / 2;
    const cy = from.top + from.height / 2;
    let best: { id: string; distance: number } | undefined;
    for (const [other, r] of rects) {
      if (other === id) continue;
      const ox = r.left + r.width / 2;
      const oy = r.top + r.height / 2;
      const ahead =
        direction === 'left'
          ? ox < cx - 1e-6
          : direction === 'right'
            ? ox > cx + 1e-6
            : direction === 'up'
              ? oy < cy - 1e-6
              : oy > cy + 1e-6;
      if (!ahead) continue;
      const distance = Math.abs(ox - cx) + Math.abs(oy - cy);
      if (!best || distance < best.distance) best = { id: other, distance };
    }
    return best?.id;
  }

  /** The groups, their leaves as indexes into `order` (saved tabs, workspaces); groups with a tab not in `order` are left out. */
  save(order: readonly string[]): PaneNode[] {
    const index = (tree: PaneTree): PaneNode =>
      'tab' in tree
        ? { tab: order.indexOf(tree.tab) }
        : { split: tree.split, children: [index(tree.children[0]), index(tree.children[1])] };
    return this.groups.filter((g) => leaves(g).every((id) => order.includes(id))).map(index);
  }

  /** Groups saved by `save`, their indexes into `ids`, added to the layout. */
  load(saved: readonly PaneNode[], ids: readonly (string | undefined)[]): void {
    const tree = (node: PaneNode): PaneTree | undefined => {
      if ('tab' in node) {
        const id = ids[node.tab];
        return id ? { tab: id } : undefined;
      }
      const [a, b] = node.children.map(tree);
      if (!a || !b) return a ?? b;
      return { split: node.split, children: [a, b] };
    };
    for (const node of saved) {
      const group = tree(node);
      if (group && !('tab' in group) && leaves(group).every((id) => !this.groupOf(id))) this.groups.push(group);
    }
    this.changeEmitter.fire();
  }

  dispose(): void {
    this.changeEmitter.dispose();
  }
}
