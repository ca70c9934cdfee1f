/** A DOM element of `tag` with `props` set, and `data-testid` when given: how the console's screens are built. */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  testid?: string,
): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  if (testid) (node as HTMLElement).dataset.testid = testid;
  return node;
}
