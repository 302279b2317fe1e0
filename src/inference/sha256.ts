/** SHA-256 of some bytes as lower-case hex, with the Web Crypto API. */
export async function sha256Hex(bytes: ArrayBuffer | Uint8Array<ArrayBuffer>): Promise<string> {
  if (!globalThis.crypto?.subtle) {
    throw new Error('Cannot verify the model: the Web Crypto API needs a secure context (https or localhost).');
  }
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Throws when `bytes` do not hash to `expected` (hex, any case). */
export async function verifySha256(bytes: ArrayBuffer | Uint8Array<ArrayBuffer>, expected: string, what: string): Promise<void> {
  const actual = await sha256Hex(bytes);
  if (actual !== expected.toLowerCase()) {
    throw new Error(`${what} failed its integrity check: sha256 is ${actual.slice(0, 12)}…, the manifest says ${expected.slice(0, 12)}….`);
  }
}

/** Whether `bytes` hash to `expected` (hex, any case). */
export async function sha256Matches(bytes: ArrayBuffer | Uint8Array<ArrayBuffer>, expected: string): Promise<boolean> {
  return (await sha256Hex(bytes)) === expected.toLowerCase();
}
