import { describe, expect, it } from 'vitest';
import { embedUrl } from './embed_url';

const none = { config: null, preset: null, hide: null, backend: null, theme: null, autorun: false, parentOrigin: null };

describe('embedUrl', () => {
  it('opens embed mode, with autorun when asked', () => {
    expect(embedUrl('https://x.org/lab/index.html', none)).toBe('https://x.org/lab/index.html?embed');
    expect(embedUrl('https://x.org/lab/index.html?old=1', { ...none, autorun: true })).toBe('https://x.org/lab/index.html?embed&autorun');
  });

  it('takes a share link as a full URL or a fragment', () => {
    const fromUrl = embedUrl('https://x.org/lab/index.html', { ...none, config: 'https://y.org/other/#v=2&z=abc' });
    expect(fromUrl).toBe('https://x.org/lab/index.html?embed#v=2&z=abc');
    expect(embedUrl('https://x.org/lab/index.html', { ...none, config: 'v=2&z=abc' })).toBe(fromUrl);
  });

  it('names the embedding origin, the only one the lab talks to', () => {
    expect(embedUrl('https://x.org/i.html', { ...none, parentOrigin: 'https://course.org' })).toBe(
      'https://x.org/i.html?embed&parent-origin=https%3A%2F%2Fcourse.org',
    );
  });

  it('passes the theme on', () => {
    expect(embedUrl('https://x.org/i.html', { ...none, theme: 'light' })).toBe('https://x.org/i.html?embed&theme=light');
  });

  it('puts preset, hide and backend in the query and leaves the link as it is', () => {
    expect(embedUrl('https://x.org/i.html', { ...none, preset: 'tiny', hide: 'header,footer', backend: 'cpu' })).toBe(
      'https://x.org/i.html?embed&preset=tiny&hide=header,footer&backend=cpu',
    );
    const link = embedUrl('https://x.org/i.html', { ...none, config: 'v=2&backend=webgpu&hide=probe', preset: 'tiny', hide: 'header', backend: 'cpu' });
    expect(link).toBe('https://x.org/i.html?embed&preset=tiny&hide=header&backend=cpu#v=2&backend=webgpu&hide=probe');
  });
});
