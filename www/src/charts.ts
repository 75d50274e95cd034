// A small reusable SVG line chart: a few series, axes with nice ticks, vertical markers.
import { extent, formatTick, linearScale, niceDomain, niceStep, niceTicks, thin, type Domain } from './chart_scale';
import { download, fileStem, pngBlob, svgDocument } from './download';
import { el, svgEl } from './ui';

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

export class LineChart {
  readonly figure: HTMLElement;
  readonly svg: SVGSVGElement;
  private readonly data = new Map<string, Point[]>();
  private markers: { x: number; label: string }[] = [];
  private xMax = 1;
  private readonly legend: HTMLElement;

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
      opts.series.map((s) => el('li', { 'data-series': s.id }, [el('span', { class: `swatch ${s.className}`, 'aria-hidden': 'true' }), s.label])),
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
    for (const s of this.opts.series) nodes.push(...this.seriesNodes(s, this.data.get(s.id) ?? [], x, y));
    if (all.length === 0) {
      nodes.push(svgEl('text', { class: 'empty', x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'No data yet'));
    }
    this.svg.replaceChildren(...nodes);
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

  private seriesNodes(s: SeriesSpec, points: Point[], x: (v: number) => number, y: (v: number) => number): SVGElement[] {
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
    });
    const out: SVGElement[] = [path];
    if (s.dots || points.length === 1) {
      for (const p of drawn) out.push(svgEl('circle', { class: `dot ${s.className}`, cx: x(p.x), cy: y(p.y), r: 2.5 }));
    }
    return out;
  }
}
