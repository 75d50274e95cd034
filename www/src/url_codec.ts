// Pure encoding/decoding of the URL fragment: `#c=<base64url of the config JSON>&backend=cpu`.
// Nothing here throws: bad input gives { ok: false, error } with a message a person understands.
// Whether a decoded config is *valid* is decided by the wasm `parse_config`, not here.
import type { BackendChoice } from './protocol';

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

/** Longest accepted `c=` value; real configs are well under 2 kB. */
export const MAX_CONFIG_CHARS = 16_384;
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'cpu'];

const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const fail = <T>(error: string): Result<T> => ({ ok: false, error });

function shorten(text: string, max = 24): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export function encodeBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function decodeBase64Url(input: string): Result<string> {
  const body = input.replace(/=+$/, '');
  const bad = body.match(/[^A-Za-z0-9_-]/);
  if (bad) return fail(`it is not base64url text (unexpected character "${shorten(bad[0])}")`);
  if (body.length % 4 === 1) return fail('it is not base64url text (it looks cut short)');
  let binary: string;
  try {
    binary = atob(body.replace(/-/g, '+').replace(/_/g, '/'));
  } catch {
    return fail('it is not base64url text');
  }
  const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  try {
    return ok(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return fail('it does not decode to UTF-8 text');
  }
}

export function encodeConfig(config: unknown): string {
  return encodeBase64Url(JSON.stringify(config));
}

/** Decodes a `c=` value into a JSON object (not yet validated as an ExperimentConfig). */
export function decodeConfig(param: string): Result<Record<string, unknown>> {
  const prefix = 'The settings in this link (c=) could not be read:';
  if (param.length === 0) return fail(`${prefix} the value is empty.`);
  if (param.length > MAX_CONFIG_CHARS) {
    return fail(`${prefix} the value is too long (${param.length} characters; the limit is ${MAX_CONFIG_CHARS}).`);
  }
  const text = decodeBase64Url(param);
  if (!text.ok) return fail(`${prefix} ${text.error}.`);
  let value: unknown;
  try {
    value = JSON.parse(text.value);
  } catch (e) {
    return fail(`${prefix} it is not valid JSON (${e instanceof Error ? e.message : 'syntax error'}).`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    return fail(`${prefix} it should be a JSON object, but it is ${kind}.`);
  }
  return ok(value as Record<string, unknown>);
}

export function parseBackend(value: string): Result<BackendChoice> {
  const found = BACKEND_CHOICES.find((b) => b === value.toLowerCase());
  if (found) return ok(found);
  return fail(`Unknown backend "${shorten(value)}" in this link (expected auto, webgpu or cpu); using auto.`);
}

/** Splits `#a=1&b=2` into raw values. Unknown keys are ignored; never throws. */
export function splitFragment(hash: string): Map<string, string> {
  const params = new Map<string, string>();
  const body = hash.startsWith('#') ? hash.slice(1) : hash;
  for (const part of body.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? '' : part.slice(eq + 1);
    params.set(safeDecodeURIComponent(rawKey), safeDecodeURIComponent(rawValue));
  }
  return params;
}

function safeDecodeURIComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export interface DecodedFragment {
  /** null when the link has no `c=`. */
  config: Result<Record<string, unknown>> | null;
  /** null when the link has no `backend=`. */
  backend: Result<BackendChoice> | null;
}

/** Each key is decoded on its own, so a broken `c=` does not lose a good `backend=`. */
export function decodeFragment(hash: string): DecodedFragment {
  const params = splitFragment(hash);
  const c = params.get('c');
  const backend = params.get('backend');
  return {
    config: c === undefined ? null : decodeConfig(c),
    backend: backend === undefined ? null : parseBackend(backend),
  };
}

export function encodeFragment(state: { config: unknown; backend: BackendChoice }): string {
  return `#c=${encodeConfig(state.config)}&backend=${state.backend}`;
}
