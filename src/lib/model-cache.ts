/**
 * Model files kept in the browser's Cache Storage, keyed by their sha256, so that a second visit or
 * a model switch does not download them again. The worker reads and fills it; the page can
 * measure and clear it. Without Cache Storage (an insecure origin, tests in Node) nothing is kept.
 */

const CACHE = 'diffit-models-v1';

const available = () => typeof caches !== 'undefined';

/** The cache key of a model file: its URL with the sha256 it must have. */
function keyOf(url: string, sha256: string): string {
  const key = new URL(url);
  key.searchParams.set('sha256', sha256.toLowerCase());
  return key.href;
}

/** The cached bytes of a model file with this sha256, or null. */
export async function cachedModel(url: string, sha256: string): Promise<Uint8Array<ArrayBuffer> | null> {
  if (!available()) return null;
  try {
    const hit = await (await caches.open(CACHE)).match(keyOf(url, sha256));
    return hit ? new Uint8Array(await hit.arrayBuffer()) : null;
  } catch {
    return null;
  }
}

/** Keeps verified bytes of a model file, dropping older versions of the same file. */
export async function keepModel(url: string, sha256: string, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
  if (!available()) return;
  try {
    const cache = await caches.open(CACHE);
    const key = keyOf(url, sha256);
    const path = new URL(url).pathname;
    for (const old of await cache.keys()) {
      if (new URL(old.url).pathname === path && old.url !== key) await cache.delete(old);
    }
    await cache.put(key, new Response(bytes, { headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.byteLength) } }));
  } catch {
    // A full or unavailable cache only means the next visit downloads again.
  }
}

/** How many model files the cache holds, and their bytes. */
export async function modelCacheSize(): Promise<{ files: number; bytes: number }> {
  if (!available()) return { files: 0, bytes: 0 };
  const cache = await caches.open(CACHE);
  let bytes = 0;
  const keys = await cache.keys();
  for (const key of keys) bytes += Number((await cache.match(key))?.headers.get('Content-Length') ?? 0);
  return { files: keys.length, bytes };
}

/** Forgets every cached model file. */
export async function clearModelCache(): Promise<void> {
  if (available()) await caches.delete(CACHE);
}
