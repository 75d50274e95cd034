import { describe, expect, it } from 'vitest';
import {
  quoted,
  MAX_ECHO,
  describeAdmission,
  describeBackend,
  formatRoughDuration,
  estimateEtaSeconds,
  formatBytes,
  formatCount,
  formatDuration,
  formatPercent,
  formatStageName,
  formatTokensPerSec,
} from './format';

describe('ETA', () => {
  it('formats durations', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(7.4)).toBe('0:07');
    expect(formatDuration(754)).toBe('12:34');
    expect(formatDuration(3723)).toBe('1:02:03');
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(Infinity)).toBe('—');
    expect(formatDuration(-1)).toBe('—');
  });

  it('estimates the remaining time from the pace so far', () => {
    expect(estimateEtaSeconds(10, 10, 30)).toBe(20);
    expect(estimateEtaSeconds(10, 30, 30)).toBe(0);
    expect(estimateEtaSeconds(0, 0, 30)).toBeNull();
    expect(estimateEtaSeconds(5, 0, 30)).toBeNull();
    expect(estimateEtaSeconds(5, 3, 0)).toBeNull();
  });
});

describe('numbers and names', () => {
  it('formats counts, rates and percentages', () => {
    expect(formatCount(950)).toBe('950');
    expect(formatCount(12_345)).toBe('12.3k');
    expect(formatCount(1_500_000)).toBe('1.5M');
    expect(formatTokensPerSec(null)).toBe('— tokens/s');
    expect(formatTokensPerSec(2048)).toBe('2.0k tokens/s');
    expect(formatPercent(0.953)).toBe('95.3%');
    expect(formatPercent(undefined)).toBe('—');
  });

  it('names stages', () => {
    expect(formatStageName('backdoor_insertion')).toBe('Backdoor insertion');
    expect(formatStageName('hhh_sft')).toBe('HHH SFT');
    expect(formatStageName('hhh_rl')).toBe('HHH RL');
    expect(formatStageName('new_kind')).toBe('new kind');
  });
});

describe('backend line', () => {
  const gpu = { available: true, vendor: 'google', architecture: 'swiftshader', description: '', reason: '' };
  const none = { available: false, vendor: '', architecture: '', description: '', reason: 'no WebGPU adapter' };
  it('says plainly what runs', () => {
    expect(describeBackend(null, 'auto', null)).toBe('Backend: checking…');
    expect(describeBackend(gpu, 'auto', null)).toBe('Backend: Auto, WebGPU (google / swiftshader) or the CPU, whichever trains this config faster');
    expect(describeBackend(gpu, 'webgpu', null)).toBe('Backend: WebGPU (google / swiftshader)');
    expect(describeBackend(gpu, 'auto', { backend: 'cpu', note: null })).toBe('Backend: CPU (measured faster than WebGPU)');
    expect(describeBackend(none, 'auto', null)).toBe('Backend: CPU fallback (no WebGPU adapter)');
    expect(describeBackend(gpu, 'cpu', null)).toBe('Backend: CPU (selected)');
    expect(describeBackend(gpu, 'auto', { backend: 'cpu', note: 'WebGPU failed' })).toBe('Backend: CPU fallback (WebGPU failed to start)');
    expect(describeBackend(gpu, 'webgpu', { backend: 'webgpu', note: null })).toBe('Backend: WebGPU (google / swiftshader)');
  });

  it('says how many threads the CPU backend has, and why only one', () => {
    const two = { threads: 2, reason: '' };
    const one = { threads: 1, reason: 'the page is not cross-origin isolated' };
    expect(describeBackend(gpu, 'cpu', null, two)).toBe('Backend: CPU (selected, 2 threads)');
    expect(describeBackend(none, 'auto', null, one)).toBe('Backend: CPU fallback (no WebGPU adapter, one thread: the page is not cross-origin isolated)');
    expect(describeBackend(gpu, 'auto', { backend: 'cpu', note: 'WebGPU failed' }, two)).toBe('Backend: CPU fallback (WebGPU failed to start, 2 threads)');
    // WebGPU does not run on the CPU's threads: nothing about them.
    expect(describeBackend(gpu, 'webgpu', null, one)).toBe('Backend: WebGPU (google / swiftshader)');
  });
});

describe('formatBytes', () => {
  it('shows downloads in kB and MB', () => {
    expect(formatBytes(0)).toBe('0 kB');
    expect(formatBytes(850_400)).toBe('850 kB');
    expect(formatBytes(5_540_000)).toBe('5.54 MB');
    expect(formatBytes(32_940_000)).toBe('32.9 MB');
  });
});

describe('quoted', () => {
  it('repeats short text as it is, in quotes', () => {
    expect(quoted('tpu')).toBe('“tpu”');
  });
  it('cuts long text and blanks control characters, so a link cannot fill the banner', () => {
    const long = 'x'.repeat(10_000);
    expect(quoted(long)).toBe(`“${'x'.repeat(MAX_ECHO)}…”`);
    expect(quoted('a\nb\u0007c')).toBe('“a b c”');
    // Cut by characters (graphemes), not UTF-16 units: no half of an emoji.
    expect(quoted('😀'.repeat(MAX_ECHO + 1))).toBe(`“${'😀'.repeat(MAX_ECHO)}…”`);
  });
});

describe('admission', () => {
  const estimate = {
    backend: 'cpu' as const,
    peak_bytes: 135e6,
    parts: [],
    largest_buffer_bytes: 4e6,
    largest_buffer: 'logits',
    training_tokens: 1e6,
    generated_tokens: 1e4,
    flops: 1e12,
    native_seconds: 23,
    seconds: 58,
  };

  it('reads an estimate as a rough time and memory', () => {
    expect(formatRoughDuration(20)).toBe('under a minute');
    expect(formatRoughDuration(720)).toBe('about 12 min');
    expect(formatRoughDuration(4 * 3600)).toBe('about 4.0 h');
    expect(describeAdmission({ admission: { estimate }, backends: ['cpu'] })).toBe('Estimated: under a minute and 135 MB of memory on the CPU.');
    expect(describeAdmission({ admission: { estimate: { ...estimate, backend: 'webgpu', peak_bytes: 2.5e9, seconds: 900 } }, backends: ['webgpu'] })).toBe(
      'Estimated: about 15 min and 2.5 GB of memory on WebGPU.',
    );
  });

  it('gives the refusal when no backend admits the run', () => {
    const refusal = 'This run needs about 4.0 GB of memory on the CPU, more than the 3.0 GB the page can use: lower stages[0].batch_size (128).';
    expect(describeAdmission({ admission: { estimate, refusal }, backends: [] })).toBe(refusal);
  });
});
