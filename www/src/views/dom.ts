// Tiny DOM helpers. Text always goes in through textContent, never innerHTML.

type Attrs = Record<string, string | number | boolean | undefined>;

function setAttrs(node: Element, attrs: Attrs): void {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    node.setAttribute(key, value === true ? '' : String(value));
  }
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, children: (Node | string)[] = []): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  node.append(...children); // strings become text nodes
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element with its text, or its child elements. */
export function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, content?: string | SVGElement[]): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  if (typeof content === 'string') node.textContent = content;
  else if (content) node.append(...content);
  return node;
}

/** The element with this data-testid (the page's stable hooks); missing ones are a programming error. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the element type, as with querySelector<T>
export function byTestId<T extends HTMLElement>(id: string, root: ParentNode = document): T {
  const node = root.querySelector<T>(`[data-testid="${id}"]`);
  if (!node) throw new Error(`missing element data-testid=${id}`);
  return node;
}

export function setDisabled(disabled: boolean, ...nodes: (HTMLButtonElement | HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement)[]): void {
  for (const node of nodes) node.disabled = disabled;
}
