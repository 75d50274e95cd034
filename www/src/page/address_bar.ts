// The share link in the address bar (TensorFlow Playground style): the fragment always holds
// the current settings. Encoding and decoding happen in core (through the worker); this module
// only touches `location` and `history`, and keeps late answers from overwriting newer ones.

let lastWritten = '';
let generation = 0;

/** Starts a write; the returned function applies `fragment` only if no newer write began since. */
export function beginUrlWrite(): (fragment: string) => void {
  const mine = ++generation;
  return (fragment) => {
    if (mine !== generation) return;
    // Page-only query keys (?embed, ?autorun) stay; the fragment is replaced without a history entry.
    const hash = `#${fragment}`;
    lastWritten = hash;
    if (location.hash !== hash) history.replaceState(history.state, '', hash);
  };
}

/** Calls back when the user (not this page) changes the fragment, e.g. pastes another link. */
export function onForeignHashChange(callback: () => void): void {
  window.addEventListener('hashchange', () => {
    if (location.hash !== lastWritten) callback();
  });
}
