/** A value, or a sentence saying why there is none (what the worker's requests resolve to). */
export type Result<T> = { ok: true; value: T } | { ok: false; error: string };
