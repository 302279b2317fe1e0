/** Reads GIF structure without a decoder (used by tests to check the exported animation). */

/** Counts the frames (image descriptors) of a GIF, walking its blocks; throws on a malformed file. */
export function gifFrameCount(bytes: Uint8Array): number {
  const header = String.fromCharCode(...bytes.subarray(0, 6));
  if (header !== 'GIF89a' && header !== 'GIF87a') throw new Error(`not a GIF (header ${JSON.stringify(header)})`);
  let p = 13;
  const flags = bytes[10];
  if (flags & 0x80) p += 3 * (1 << ((flags & 7) + 1));
  const skipSubBlocks = () => {
    while (bytes[p] !== 0) p += bytes[p] + 1;
    p += 1;
  };
  let frames = 0;
  for (;;) {
    if (p >= bytes.length) throw new Error('GIF ends without a trailer');
    const block = bytes[p++];
    if (block === 0x3b) return frames;
    if (block === 0x21) {
      p += 1; // label
      skipSubBlocks();
    } else if (block === 0x2c) {
      frames++;
      const local = bytes[p + 8];
      p += 9;
      if (local & 0x80) p += 3 * (1 << ((local & 7) + 1));
      p += 1; // LZW minimum code size
      skipSubBlocks();
    } else throw new Error(`unknown GIF block 0x${block.toString(16)} at ${p - 1}`);
  }
}
