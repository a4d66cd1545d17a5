/**
 * @module util/garbage
 * Memory stays bounded while a large answer moves through the node. JavaScriptCore sizes its
 * heap by the machine's RAM and collects lazily: streaming 2,000,000 rows through a query
 * node left ~200 MiB of dead rows and text uncollected on a 24 GiB machine (the answer's
 * live part was a few MiB). Code that moves rows page by page says how many bytes it moved;
 * every COLLECT_EVERY bytes a full collection runs (a few ms on a node's small heap), so the
 * node's RSS follows its live data, not the size of the answer. Small answers never reach it.
 */

/** Bytes moved between collections. */
const COLLECT_EVERY = 4 * 1024 * 1024;

let moved = 0;

/** Counts `bytes` of rows or text moved; collects the garbage once enough has been. */
export function movedBytes(bytes: number): void {
  moved += bytes;
  if (moved < COLLECT_EVERY) return;
  moved = 0;
  Bun.gc(true);
}
