import { describe, expect, it } from 'vitest';
import { HIDE_KEYS, originOf, pageOptions, parseHide, splitParams } from './page_options';

describe('splitParams', () => {
  it('reads keys with and without values, percent-decoded', () => {
    const p = splitParams('#v=2&z=abc&hide=config%2Cbackend&autorun');
    expect([...p]).toEqual([
      ['v', '2'],
      ['z', 'abc'],
      ['hide', 'config,backend'],
      ['autorun', ''],
    ]);
  });

  it('never throws on broken escapes or empty input', () => {
    expect(splitParams('#%E0%A4%A=1&&=').get('%E0%A4%A')).toBe('1');
    expect(splitParams('').size).toBe(0);
    expect(splitParams('?').size).toBe(0);
  });
});

describe('pageOptions', () => {
  it('reads the page options from the query only (the fragment is the link)', () => {
    expect(pageOptions('?embed&autorun&preset=tiny&hide=header,%20footer&backend=cpu&theme=light')).toEqual({
      embed: true,
      autorun: true,
      preset: 'tiny',
      hide: ['header', 'footer'],
      backend: 'cpu',
      theme: 'light',
      parentOrigin: null,
    });
    expect(pageOptions('?x=1&theme=purple')).toEqual({
      embed: false,
      autorun: false,
      preset: null,
      hide: [],
      backend: null,
      theme: 'auto',
      parentOrigin: null,
    });
  });

  it('reads the embedding origin, and nothing that is not one', () => {
    expect(pageOptions('?embed&parent-origin=https%3A%2F%2Fcourse.example.org').parentOrigin).toBe('https://course.example.org');
    expect(pageOptions('?parent-origin=http://127.0.0.1:8080/path?q').parentOrigin).toBe('http://127.0.0.1:8080');
    for (const bad of ['*', 'null', 'javascript:alert(1)', 'file:///x', 'data:text/html,x', '', 'https://' + 'a'.repeat(3000)]) {
      expect(originOf(bad)).toBeNull();
    }
  });
});

describe('parseHide', () => {
  it('keeps known keys once, case-insensitively, and reports the rest', () => {
    expect(parseHide(['Config', 'backend', 'config', 'colour', ''])).toEqual({ hide: ['config', 'backend'], unknown: ['colour'] });
  });

  it('knows every group index.html marks with data-hide', () => {
    expect(HIDE_KEYS).toContain('probe');
    expect(new Set(HIDE_KEYS).size).toBe(HIDE_KEYS.length);
  });
});
