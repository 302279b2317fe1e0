import { describe, expect, it } from 'vitest';
import { sha256Hex, verifySha256 } from './sha256';

describe('sha256', () => {
  it('hashes bytes', async () => {
    expect(await sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('rejects a mismatch with a clear message', async () => {
    await expect(verifySha256(new TextEncoder().encode('abc'), '00'.repeat(32), 'model x')).rejects.toThrow(/model x failed its integrity check/);
    await expect(verifySha256(new TextEncoder().encode('abc'), 'BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD', 'm')).resolves.toBeUndefined();
  });
});
