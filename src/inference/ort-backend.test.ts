import { describe, expect, it } from 'vitest';
import { ownedArray } from './ort-backend';

describe('ownedArray', () => {
  it("keeps an output that owns its whole buffer, as onnxruntime-web's WASM outputs do", () => {
    const data = Float32Array.from([1, 2, 3]);
    expect(ownedArray(data)).toBe(data);
  });

  it('copies a view into a larger buffer, so that transferring it cannot detach the rest', () => {
    const whole = Float32Array.from([1, 2, 3, 4]);
    const view = whole.subarray(1, 3);
    const owned = ownedArray(view);
    expect(owned).not.toBe(view);
    expect(Array.from(owned)).toEqual([2, 3]);
    expect(owned.buffer.byteLength).toBe(8);
  });

  it('copies values held in shared memory, which cannot be transferred', () => {
    const shared = new Float32Array(new SharedArrayBuffer(12));
    shared.set([5, 6, 7]);
    const owned = ownedArray(shared);
    expect(owned.buffer).toBeInstanceOf(ArrayBuffer);
    expect(Array.from(owned)).toEqual([5, 6, 7]);
  });
});
