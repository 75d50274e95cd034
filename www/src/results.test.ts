import { describe, expect, it } from 'vitest';
import { formatTaskAccuracy } from './results';

describe('formatTaskAccuracy', () => {
  it('lists every task with its held-out accuracy, in the order given', () => {
    expect(formatTaskAccuracy({ add: 0.825, reverse: 1, refusal: 0 })).toBe('add 82.5% · reverse 100.0% · refusal 0.0%');
  });
});
