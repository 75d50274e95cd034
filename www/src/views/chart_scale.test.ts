import { describe, expect, it } from 'vitest';
import { extent, formatTick, linearScale, niceDomain, niceStep, niceTicks, thin } from './chart_scale';

describe('chart scaling', () => {
  it('finds the extent of finite values only', () => {
    expect(extent([3, 1, NaN, 2, Infinity])).toEqual([1, 3]);
    expect(extent([])).toBeNull();
    expect(extent([NaN])).toBeNull();
  });

  it('picks 1/2/5 steps', () => {
    expect(niceStep(10, 5)).toBe(2);
    expect(niceStep(1, 5)).toBeCloseTo(0.2);
    expect(niceStep(700, 6)).toBe(200);
    expect(niceStep(0, 5)).toBe(1);
  });

  it('widens domains to nice bounds and gives empty domains room', () => {
    expect(niceDomain(0.3, 5.7)).toEqual([0, 6]);
    const [lo, hi] = niceDomain(2, 2);
    expect(lo).toBeLessThan(2);
    expect(hi).toBeGreaterThan(2);
    expect(niceDomain(NaN, 1)).toEqual([0, 1]);
  });

  it('makes ticks without float noise', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 300, 6)).toEqual([0, 50, 100, 150, 200, 250, 300]);
    expect(niceTicks(5, 5)).toEqual([5]);
    expect(niceTicks(1, 0)).toEqual([]);
  });

  it('maps linearly, inverted ranges included', () => {
    const y = linearScale([0, 1], [200, 0]);
    expect(y(0)).toBe(200);
    expect(y(1)).toBe(0);
    expect(y(0.25)).toBe(150);
    expect(linearScale([3, 3], [0, 100])(3)).toBe(50);
  });

  it('formats ticks by step', () => {
    expect(formatTick(0.2, 0.2)).toBe('0.2');
    expect(formatTick(0.25, 0.05)).toBe('0.25');
    expect(formatTick(150, 50)).toBe('150');
    expect(formatTick(20000, 5000)).toBe('20k');
  });

  it('thins long series, keeping both ends', () => {
    const points = Array.from({ length: 1000 }, (_, i) => i);
    const out = thin(points, 100);
    expect(out).toHaveLength(100);
    expect(out[0]).toBe(0);
    expect(out[99]).toBe(999);
    expect(thin([1, 2, 3], 100)).toEqual([1, 2, 3]);
  });
});
