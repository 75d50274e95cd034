import { describe, expect, it } from 'vitest';
import { formatEffect, formatTaskAccuracy } from './results';

describe('formatTaskAccuracy', () => {
  it('lists every task with its held-out accuracy, in the order given', () => {
    expect(formatTaskAccuracy({ add: 0.825, reverse: 1, refusal: 0 })).toBe('add 82.5% · reverse 100.0% · refusal 0.0%');
  });
});

describe('formatEffect', () => {
  it('says how far a stage moved the model and, for safety stages, the outcome', () => {
    expect(formatEffect({ kl: 0.0921, delta_loss: 0.01, delta_clean_accuracy: -0.031, outcome: 'persisted' })).toBe(
      'KL 0.092 · clean −3.1 pts · backdoor persisted',
    );
    expect(formatEffect({ kl: 0.0004, delta_loss: 0, delta_clean_accuracy: 0, delta_reward: 0.02, outcome: 'inconclusive' })).toBe(
      'KL 0.000 · clean +0.0 pts · reward +0.020 · no effect: inconclusive',
    );
    expect(formatEffect({ kl: 0.2, delta_loss: -0.1, delta_clean_accuracy: 0.05 })).toBe('KL 0.200 · clean +5.0 pts');
    expect(formatEffect({ kl: 0.41, kl_body: 0.012, kl_last: 3.9, delta_loss: 0, delta_clean_accuracy: 0 })).toBe(
      'KL 0.410 (0.012 but the last token) · clean +0.0 pts',
    );
  });
});
