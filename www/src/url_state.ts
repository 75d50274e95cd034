// The share link: the URL fragment holds the config and the backend choice (like TensorFlow
// Playground). Decoding is in url_codec.ts; this module only touches `location` and `history`.
import type { BackendChoice } from './protocol';
import { decodeFragment, encodeFragment, type DecodedFragment } from './url_codec';

let lastWritten = '';

export function readUrlState(): DecodedFragment {
  return decodeFragment(location.hash);
}

/** Replaces the fragment (no new history entry) so the address bar is always a share link. */
export function writeUrlState(config: unknown, backend: BackendChoice): void {
  const hash = encodeFragment({ config, backend });
  lastWritten = hash;
  if (location.hash !== hash) history.replaceState(history.state, '', hash);
}

/** Calls back when the user (not this page) changes the fragment, e.g. pastes another link. */
export function onForeignHashChange(callback: () => void): void {
  window.addEventListener('hashchange', () => {
    if (location.hash !== lastWritten) callback();
  });
}
