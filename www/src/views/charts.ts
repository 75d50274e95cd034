// A small reusable SVG line chart: a few series, axes with nice ticks, vertical markers.
import { extent, formatTick, linearScale, niceDomain, niceStep, niceTicks, thin, type Domain } from './chart_scale';
import { download, fileStem, pngBlob, svgDocument } from './download';
import { el, svgEl } from './dom';

/** A value for the hover read-out: rates and losses to three significant digits. */
function formatValue(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
}

export interface Point {
  x: number;
  y: number;
}

export interface SeriesSpec {
  id: string;
  label: string;
  /** CSS class giving the colour and dash style (see style.css). */
  className: string;
  /** Draw a dot at every point (for sparse series such as evaluations). */
  dots?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: SeriesSpec[];
  /** Fixed y range (e.g. [0, 1] for rates); otherwise fitted to the data. */
  yDomain?: Domain;
  testId: string;
}

const W = 480;
const H = 260;
const M = { top: 22, right: 12, bottom: 40, left: 48 };
const MAX_DRAWN_POINTS = 1500;
/** Series are told apart by dash pattern as well as colour (in order; a class may set its own). */
const DASHES = ['', '6 3', '2 3', '9 3 2 3', '12 4'];

export class LineChart {
  readonly figure: HTMLElement;
  readonly svg: SVGSVGElement;
  private readonly data = new Map<string, Point[]>();
  private markers: { x: number; label: string }[] = [];
  private xMax = 1;
  private readonly legend: HTMLElement;
  /** The scales of the last render, for the hover read-out. */
  private scales: { x: (v: number) => number; y: (v: number) => number; xMax: number } | null = null;
  private readonly hover = svgEl('g', { class: 'hover', 'data-testid': 'chart-hover' });

  constructor(private readonly opts: ChartOptions) {
    for (const s of opts.series) this.data.set(s.id, []);
    this.svg = svgEl('svg', {
      viewBox: `0 0 ${W} ${H}`,
      role: 'img',
      'aria-label': opts.title,
      'data-testid': opts.testId,
      'data-points': 0,
      class: 'chart',
    });
    this.legend = el(
      'ul',
      { class: 'legend' },
      opts.series.map((s, i) =>
        el('li', { 'data-series': s.id }, [
          svgEl('svg', { class: 'swatch', viewBox: '0 0 22 8', width: 22, height: 8, 'aria-hidden': 'true' }, [
            svgEl('line', { class: `series ${s.className}`, x1: 1, y1: 4, x2: 21, y2: 4, 'stroke-dasharray': DASHES[i % DASHES.length] ?? '' }),
          ]),
          s.label,
        ]),
      ),
    );
    const legend = this.legend;
    const stem = fileStem(opts.title);
    const svgButton = el('button', { type: 'button', class: 'small', 'data-testid': `${opts.testId}-svg` }, ['SVG']);
    const pngButton = el('button', { type: 'button', class: 'small', 'data-testid': `${opts.testId}-png` }, ['PNG']);
    svgButton.addEventListener('click', () => {
      download(svgDocument(this.svg), `${stem}.svg`, 'image/svg+xml');
    });
    pngButton.addEventListener(
      'click',
      () =>
        void pngBlob(this.svg).then((b) => {
          download(b, `${stem}.png`, 'image/png');
        }),
    );
    const tools = el('div', { class: 'chart-tools', 'data-hide': 'export' }, ['Download ', svgButton, pngButton]);
    this.figure = el('figure', { class: 'chart-figure' }, [el('figcaption', {}, [opts.title]), this.svg, legend, tools]);
    this.svg.addEventListener('pointermove', (ev) => {
      this.showValuesAt(ev.clientX);
    });
    this.svg.addEventListener('pointerleave', () => {
      this.hover.replaceChildren();
    });
    this.render();
  }

  /** The x axis spans 0..max (the run's total steps), so progress is visible as the line grows. */
  setXMax(max: number): void {
    this.xMax = Math.max(1, max);
  }

  setMarkers(markers: { x: number; label: string }[]): void {
    this.markers = markers;
  }

  append(seriesId: string, points: Point[]): void {
    this.data.get(seriesId)?.push(...points);
  }

  clear(): void {
    for (const points of this.data.values()) points.length = 0;
  }

  pointCount(): number {
    let n = 0;
    for (const points of this.data.values()) n += points.length;
    return n;
  }

  render(): void {
    const all = [...this.data.values()].flat();
    const yExt = this.opts.yDomain ?? extent(all.map((p) => p.y)) ?? [0, 1];
    const yDom = this.opts.yDomain ?? niceDomain(Math.min(0, yExt[0]), yExt[1]);
    const xMax = Math.max(this.xMax, extent(all.map((p) => p.x))?.[1] ?? 0);
    const x = linearScale([0, xMax], [M.left, W - M.right]);
    const y = linearScale(yDom, [H - M.bottom, M.top]);

    const nodes: SVGElement[] = [svgEl('title', {}, this.opts.title)];
    nodes.push(...this.axes(x, y, xMax, yDom));
    for (const m of this.markers) {
      nodes.push(svgEl('line', { class: 'marker', x1: x(m.x), x2: x(m.x), y1: M.top, y2: H - M.bottom }));
      nodes.push(svgEl('text', { class: 'marker-label', x: x(m.x), y: M.top - 7, 'text-anchor': 'middle' }, m.label));
    }
    this.opts.series.forEach((s, i) => nodes.push(...this.seriesNodes(s, i, this.data.get(s.id) ?? [], x, y)));
    if (all.length === 0) {
      nodes.push(svgEl('text', { class: 'empty', x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'No data yet'));
    }
    this.scales = { x, y, xMax };
    this.hover.replaceChildren();
    this.svg.replaceChildren(...nodes, this.hover);
    // A series that has no data (red-team rates without eval.red_team, say) keeps out of the legend.
    for (const item of this.legend.querySelectorAll<HTMLElement>('li[data-series]')) {
      item.hidden = all.length > 0 && (this.data.get(item.dataset.series ?? '')?.length ?? 0) === 0;
    }
    this.svg.setAttribute('data-points', String(all.length));
  }

  private axes(x: (v: number) => number, y: (v: number) => number, xMax: number, yDom: Domain): SVGElement[] {
    const out: SVGElement[] = [];
    const xStep = niceStep(xMax, 6);
    for (const t of niceTicks(0, xMax, 6)) {
      out.push(svgEl('line', { class: 'grid', x1: x(t), x2: x(t), y1: M.top, y2: H - M.bottom }));
      out.push(svgEl('text', { class: 'tick', x: x(t), y: H - M.bottom + 16, 'text-anchor': 'middle' }, formatTick(t, xStep)));
    }
    const yStep = niceStep(yDom[1] - yDom[0], 5);
    for (const t of niceTicks(yDom[0], yDom[1], 5)) {
      out.push(svgEl('line', { class: 'grid', x1: M.left, x2: W - M.right, y1: y(t), y2: y(t) }));
      out.push(svgEl('text', { class: 'tick', x: M.left - 6, y: y(t) + 4, 'text-anchor': 'end' }, formatTick(t, yStep)));
    }
    out.push(svgEl('line', { class: 'axis', x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom }));
    out.push(svgEl('line', { class: 'axis', x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom }));
    out.push(svgEl('text', { class: 'axis-label', x: (M.left + W - M.right) / 2, y: H - 6, 'text-anchor': 'middle' }, this.opts.xLabel));
    out.push(
      svgEl('text', { class: 'axis-label', transform: `translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)`, 'text-anchor': 'middle' }, this.opts.yLabel),
    );
    return out;
  }

  /** Under the pointer: a vertical line at the nearest step and each series' value there. */
  private showValuesAt(clientX: number): void {
    const scales = this.scales;
    const box = this.svg.getBoundingClientRect();
    if (!scales || box.width === 0) return;
    const sx = ((clientX - box.left) / box.width) * W;
    const step = ((sx - M.left) / (W - M.left - M.right)) * scales.xMax;
    const rows: { label: string; className: string; p: Point }[] = [];
    for (const s of this.opts.series) {
      const points = this.data.get(s.id) ?? [];
      let best: Point | undefined;
      for (const p of points) if (!best || Math.abs(p.x - step) < Math.abs(best.x - step)) best = p;
      if (best) rows.push({ label: s.label, className: s.className, p: best });
    }
    if (rows.length === 0 || sx < M.left || sx > W - M.right) {
      this.hover.replaceChildren();
      return;
    }
    const at = rows.reduce((a, b) => (Math.abs(b.p.x - step) < Math.abs(a.p.x - step) ? b : a)).p.x;
    const px = scales.x(at);
    const left = px > (M.left + W - M.right) / 2; // the read-out sits on the side with room
    const tx = left ? px - 6 : px + 6;
    const anchor = left ? 'end' : 'start';
    const lines = [`step ${at}`, ...rows.map((r) => `${r.label}: ${formatValue(r.p.y)}`)];
    this.hover.replaceChildren(
      svgEl('line', { class: 'hover-line', x1: px, x2: px, y1: M.top, y2: H - M.bottom }),
      ...rows.map((r) => svgEl('circle', { class: `dot ${r.className}`, cx: scales.x(r.p.x), cy: scales.y(r.p.y), r: 3.5 })),
      svgEl(
        'text',
        { class: 'hover-text', x: tx, y: M.top + 12, 'text-anchor': anchor },
        lines.map((t, i) => svgEl('tspan', { x: tx, dy: i === 0 ? 0 : 14 }, t)),
      ),
    );
    this.hover.setAttribute('data-step', String(at));
  }

  private seriesNodes(s: SeriesSpec, index: number, points: Point[], x: (v: number) => number, y: (v: number) => number): SVGElement[] {
    if (points.length === 0) return [];
    const drawn = thin(points, MAX_DRAWN_POINTS);
    const d = drawn.map((p, i) => `${i ? 'L' : 'M'}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join('');
    const path = svgEl('path', {
      class: `series ${s.className}`,
      d,
      'data-series': s.id,
      'data-count': points.length,
      'data-first': points[0]?.y ?? '',
      'data-last': points.at(-1)?.y ?? '',
      'stroke-dasharray': DASHES[index % DASHES.length] ?? '',
    });
    const out: SVGElement[] = [path];
    if (s.dots || points.length === 1) {
      for (const p of drawn) out.push(svgEl('circle', { class: `dot ${s.className}`, cx: x(p.x), cy: y(p.y), r: 2.5 }));
    }
    return out;
  }
}
