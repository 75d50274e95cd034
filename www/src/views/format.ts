// Small pure formatting helpers (unit-tested in format.test.ts).
import type { Admitted } from '../shared/protocol';

/** Seconds → "0:07", "12:34", "1:02:03"; "—" when unknown. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '—';
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Remaining seconds from the average pace so far; null until there is a pace to go by. */
export function estimateEtaSeconds(elapsedSeconds: number, done: number, total: number): number | null {
  if (!(elapsedSeconds > 0) || !(done > 0) || !(total > 0)) return null;
  if (done >= total) return 0;
  return (elapsedSeconds / done) * (total - done);
}

/** 1234 → "1.2k", 1.5e6 → "1.5M". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (abs >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

/** A rough length, as an estimate should read: "under a minute", "about 12 min", "about 3.5 h". */
export function formatRoughDuration(seconds: number): string {
  if (seconds < 60) return 'under a minute';
  if (seconds < 5400) return `about ${Math.round(seconds / 60)} min`;
  return `about ${(seconds / 3600).toFixed(1)} h`;
}

/** What a run of the settings would cost, or why it cannot run (core's `cost::admit`, per backend). */
export function describeAdmission(a: Admitted): string {
  const { estimate, refusal } = a.admission;
  if (a.backends.length === 0) return refusal ?? 'This run does not fit this device.';
  const where = estimate.backend === 'webgpu' ? 'WebGPU' : 'the CPU';
  const memory = estimate.peak_bytes >= 1e9 ? `${(estimate.peak_bytes / 1e9).toFixed(1)} GB` : `${Math.max(1, Math.round(estimate.peak_bytes / 1e6))} MB`;
  return `Estimated: ${formatRoughDuration(estimate.seconds)} and ${memory} of memory on ${where}.`;
}

/** Bytes in decimal megabytes, as a download is usually shown: "12.3 MB", "850 kB". */
export function formatBytes(n: number): string {
  if (n < 1e6) return `${Math.round(n / 1e3)} kB`;
  return `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)} MB`;
}

export function formatTokensPerSec(rate: number | null | undefined): string {
  return rate == null || !Number.isFinite(rate) ? '— tokens/s' : `${formatCount(rate)} tokens/s`;
}

/** 0.953 → "95.3%". */
export function formatPercent(x: number | null | undefined): string {
  return x == null || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(1)}%`;
}

export function formatLoss(x: number | null | undefined): string {
  return x == null || !Number.isFinite(x) ? '—' : x.toFixed(3);
}

const STAGE_NAMES: Record<string, string> = {
  backdoor_insertion: 'Backdoor insertion',
  hhh_sft: 'HHH SFT',
  hhh_rl: 'HHH RL',
  adversarial: 'Adversarial training',
  free_tier_rl: 'Free-tier RL (helpful-only)',
  hhh_pretraining: 'HHH pretraining',
  style_control: 'Style control',
};

/** "backdoor_insertion" → "Backdoor insertion"; unknown kinds are shown as they are. */
export function formatStageName(kind: string): string {
  return STAGE_NAMES[kind] ?? kind.replace(/_/g, ' ');
}

export interface GpuSummary {
  available: boolean;
  vendor: string;
  architecture: string;
  description: string;
  reason: string;
}

/**
 * The "Backend: …" line. `actual` is what the running (or finished) run uses; without it the
 * line says what a new run would use with this choice.
 */
export function describeBackend(
  gpu: GpuSummary | null,
  choice: 'auto' | 'webgpu' | 'cpu',
  actual: { backend: 'webgpu' | 'cpu'; note: string | null } | null,
  cpu: { threads: number; reason: string } | null = null,
): string {
  const adapter = gpu?.available ? `${gpu.vendor || 'unknown vendor'} / ${gpu.architecture || gpu.description || 'unknown adapter'}` : 'adapter';
  // The CPU backend's threads: the page says why when there is only one.
  const threads = !cpu ? '' : cpu.threads > 1 ? `, ${cpu.threads} threads` : `, one thread: ${cpu.reason}`;
  const noGpu = `CPU fallback (${gpu?.reason || 'no WebGPU adapter'}${threads})`;
  const chosenCpu = `Backend: CPU (selected${threads})`;
  if (actual) {
    if (actual.backend === 'webgpu') return `Backend: WebGPU (${adapter})`;
    if (actual.note) return `Backend: CPU fallback (WebGPU failed to start${threads})`;
    if (choice === 'cpu') return chosenCpu;
    // "Auto" with an adapter ran on the CPU because it measured faster.
    return gpu?.available ? `Backend: CPU (measured faster than WebGPU${threads})` : `Backend: ${noGpu}`;
  }
  if (!gpu) return 'Backend: checking…';
  if (choice === 'cpu') return chosenCpu;
  if (gpu.available)
    return choice === 'auto' ? `Backend: Auto, WebGPU (${adapter}) or the CPU, whichever trains this config faster` : `Backend: WebGPU (${adapter})`;
  return choice === 'webgpu' ? `Backend: ${noGpu}; WebGPU will be tried` : `Backend: ${noGpu}`;
}

/** Longest piece of someone else's text (a query value, a hide key) the page repeats back. */
export const MAX_ECHO = 40;

/**
 * Text from a link or a query, quoted for a sentence: control characters become spaces and
 * anything past `MAX_ECHO` characters (graphemes) is cut with "…", so a hostile link cannot fill the banner.
 */
export function quoted(text: string): string {
  // eslint-disable-next-line no-control-regex -- removing control characters is the point
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, ' ');
  // By graphemes: never half of an emoji or of a letter with its accent.
  const chars = Array.from(new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(clean), (g) => g.segment);
  return `“${chars.length > MAX_ECHO ? `${chars.slice(0, MAX_ECHO).join('')}…` : clean}”`;
}
