// Attention maps (layers × heads as a grid of heat maps) and the logit lens, for one prompt and
// answer. Clicking a token selects it: each map marks its row and lists what it attends to most,
// and the logit lens shows what each layer predicts after it.
import type { Inspection } from '../shared/wasm_api';
import { el } from './dom';

const CELL = 3; // pixels per matrix entry

export function renderInspection(host: HTMLElement, x: Inspection): void {
  const t = x.tokens.length;
  let selected = x.prompt_tokens - 1 + Math.min(1, t - x.prompt_tokens); // first answer token, if any
  const strip = el('div', { class: 'token-strip', 'data-testid': 'token-strip' });
  const grid = el('div', {
    class: 'attention-grid',
    'data-testid': 'attention-grid',
    style: `grid-template-columns: repeat(${x.attention[0]?.length ?? 1}, auto)`,
  });
  const lens = el('div', { class: 'logit-lens', 'data-testid': 'logit-lens' });

  const tokenSpans = x.tokens.map((tok, i) => {
    const span = el('button', { type: 'button', class: i >= x.prompt_tokens ? 'token answer' : 'token', 'data-index': i, title: `token ${i}` }, [
      tok === ' ' ? '·' : tok,
    ]);
    span.addEventListener('click', () => {
      selected = i;
      draw();
    });
    return span;
  });
  strip.append(...tokenSpans);

  const cells = x.attention.flatMap((heads, layer) =>
    heads.map((matrix, head) => {
      const canvas = el('canvas', { width: t * CELL, height: t * CELL, class: 'attention-map', 'data-layer': layer, 'data-head': head });
      const caption = el('figcaption', {}, []);
      grid.append(el('figure', { class: 'attention-cell' }, [canvas, caption]));
      return { canvas, caption, matrix, layer, head };
    }),
  );

  function draw(): void {
    tokenSpans.forEach((s, i) => s.classList.toggle('selected', i === selected));
    for (const { canvas, caption, matrix, layer, head } of cells) {
      const ctx = canvas.getContext('2d');
      if (!ctx) continue;
      const image = ctx.createImageData(t * CELL, t * CELL);
      for (let i = 0; i < t; i++) {
        for (let j = 0; j < t; j++) {
          const v = Math.sqrt(matrix[i * t + j] ?? 0); // sqrt: small weights stay visible
          const shade = 255 - Math.round(255 * v);
          const onRow = i === selected;
          for (let dy = 0; dy < CELL; dy++) {
            for (let dx = 0; dx < CELL; dx++) {
              const p = ((i * CELL + dy) * t * CELL + j * CELL + dx) * 4;
              image.data[p] = onRow ? 255 : shade;
              image.data[p + 1] = shade;
              image.data[p + 2] = onRow ? shade : 255;
              image.data[p + 3] = 255;
            }
          }
        }
      }
      ctx.putImageData(image, 0, 0);
      const row = matrix.slice(selected * t, selected * t + t);
      const top = row
        .map((w, j) => ({ w, j }))
        .sort((a, b) => b.w - a.w)
        .slice(0, 3)
        .map(({ w, j }) => `${JSON.stringify(x.tokens[j])} ${(w * 100).toFixed(0)}%`);
      caption.textContent = `L${layer + 1} H${head + 1}: ${top.join(', ')}`;
    }
    const rows = x.logit_lens.map((layer, i) =>
      el('tr', {}, [
        el('th', { scope: 'row' }, [i === 0 ? 'embeddings' : `block ${i}`]),
        ...(layer[selected] ?? []).map((tt) => el('td', {}, [`${JSON.stringify(tt.token)} ${(tt.prob * 100).toFixed(0)}%`])),
      ]),
    );
    lens.replaceChildren(
      el('p', { class: 'hint' }, [`Logit lens after token ${selected} (${JSON.stringify(x.tokens[selected])}): what each layer would predict next.`]),
      el('table', {}, [el('tbody', {}, rows)]),
    );
  }

  host.replaceChildren(
    el('p', { class: 'hint' }, ['Click a token to see what it attends to in every head (its row is marked in red) and what each layer predicts after it.']),
    strip,
    grid,
    lens,
  );
  draw();
}
