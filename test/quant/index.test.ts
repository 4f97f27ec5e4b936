import { describe, expect, it } from 'vitest';
import { ggmlTypeById } from '../../src/gguf/ggml-types.js';
import {
  SUPPORTED_TYPE_IDS, decoderFor, dequantize, f32ToF16, isSupportedType, replaceDecoderForTesting,
} from '../../src/quant/index.js';

// Byte offsets of the fp16 scale fields in one block (kept finite in the random blocks below).
const HALF_FIELDS: Record<string, number[]> = {
  Q4_0: [0], Q4_1: [0, 2], Q5_0: [0], Q5_1: [0, 2], Q8_0: [0], IQ4_NL: [0],
  Q2_K: [80, 82], Q3_K: [108], Q4_K: [0, 2], Q5_K: [0, 2], Q6_K: [208], IQ4_XS: [0],
};

let seed = 7;
const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);

function randomBlocks(typeId: number, nBlocks: number): Uint8Array {
  const { info } = decoderFor(typeId)!;
  const b = new Uint8Array(nBlocks * info.typeSize);
  for (let i = 0; i < b.length; i++) b[i] = rnd() >>> 24;
  const put = (p: number) => {
    const h = f32ToF16(((rnd() / 2 ** 32) - 0.5) * 0.01);
    b[p] = h & 0xff;
    b[p + 1] = h >> 8;
  };
  if (info.name === 'F16') for (let p = 0; p < b.length; p += 2) put(p);
  for (const off of HALF_FIELDS[info.name] ?? []) for (let k = 0; k < nBlocks; k++) put(k * info.typeSize + off);
  return b;
}

describe('decoder table', () => {
  it('supports exactly the 15 types, ascending', () => {
    expect(SUPPORTED_TYPE_IDS).toEqual([0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 20, 23, 30]);
    expect(SUPPORTED_TYPE_IDS.map((id) => decoderFor(id)!.info.name)).toEqual([
      'F32', 'F16', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K',
      'IQ4_NL', 'IQ4_XS', 'BF16',
    ]);
  });

  it('entries carry the shared ggml type info', () => {
    for (const id of SUPPORTED_TYPE_IDS) {
      expect(decoderFor(id)!.info).toBe(ggmlTypeById(id));
      expect(isSupportedType(id)).toBe(true);
    }
  });

  it('replaceDecoderForTesting swaps one decoder until restored, and refuses a type without one', () => {
    const real = decoderFor(8)!;
    const restore = replaceDecoderForTesting(8, (_src, dst, n) => dst.fill(7, 0, n * 32));
    try {
      expect(decoderFor(8)!.info).toBe(real.info);
      expect([...dequantize(8, new Uint8Array(34), 32)]).toEqual(Array(32).fill(7));
    } finally {
      restore();
    }
    expect(decoderFor(8)).toBe(real);
    expect([...dequantize(8, new Uint8Array(34), 32)]).toEqual(Array(32).fill(0));
    expect(() => replaceDecoderForTesting(15, real.decode)).toThrowError('no decoder for type 15');
  });

  it('unsupported and unknown ids', () => {
    for (const id of [4, 9, 15, 16, 24, 28, 39, 1000, -1]) {
      expect(decoderFor(id)).toBeUndefined();
      expect(isSupportedType(id)).toBe(false);
    }
  });
});

describe('dequantize', () => {
  it('validates its arguments with plain Errors', () => {
    const src = new Uint8Array(144 * 2);
    expect(() => dequantize(12, src, 300)).toThrowError(/not a multiple of the Q4_K block size 256/);
    expect(() => dequantize(12, src, 768)).toThrowError(/need 432 bytes .* only 288/);
    expect(() => dequantize(15, src, 256)).toThrowError(/Q8_K .*not supported/);
    expect(() => dequantize(77, src, 256)).toThrowError(/ggml type id 77 is not supported/);
    expect(() => dequantize(15, src, 256)).toThrowError(
      'dequantize: ggml type Q8_K (id 15) is not supported; supported: F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, BF16',
    );
    expect(() => dequantize(12, src, -256)).toThrowError(/non-negative integer/);
    expect(() => dequantize(12, src, 1.5)).toThrowError(/non-negative integer/);
    expect(() => dequantize(12, src, 512, new Float32Array(256))).toThrowError(/destination/);
    try {
      dequantize(12, src, 300);
    } catch (e) {
      expect(Object.getPrototypeOf(e)).toBe(Error.prototype);
    }
  });

  it('accepts zero elements and longer-than-needed sources', () => {
    expect(dequantize(2, new Uint8Array(0), 0).length).toBe(0);
    const out = dequantize(8, new Uint8Array(100), 32);
    expect(out.length).toBe(32);
    // every type, from a source one block and 3 bytes longer than needed: the same values as from an exact one
    for (const id of SUPPORTED_TYPE_IDS) {
      const { info } = decoderFor(id)!;
      const long = randomBlocks(id, 3);
      const exact = long.slice(0, 2 * info.typeSize);
      const want = dequantize(id, exact, 2 * info.blockSize);
      const got = dequantize(id, Uint8Array.of(...long, 1, 2, 3), 2 * info.blockSize);
      expect(new Uint32Array(got.buffer), info.name).toEqual(new Uint32Array(want.buffer));
    }
  });

  for (const id of SUPPORTED_TYPE_IDS) {
    const name = decoderFor(id)!.info.name;
    it(`${name}: chunks decode independently, in any order, from any byte offset`, () => {
      const { info, decode } = decoderFor(id)!;
      const nBlocks = info.blockSize === 1 ? 1000 : 37;
      const src = randomBlocks(id, nBlocks);
      const n = nBlocks * info.blockSize;
      const whole = dequantize(id, src, n);
      // the same bytes, shifted to an odd offset, decoded in uneven chunks, last chunk first
      const shifted = new Uint8Array(src.length + 5);
      shifted.set(src, 5);
      const cuts = [0, 1, 2, 7, 20, nBlocks];
      const dst = new Float32Array(n).fill(NaN);
      for (let c = cuts.length - 2; c >= 0; c--) {
        const [b0, b1] = [cuts[c], cuts[c + 1]];
        decode(
          shifted.subarray(5 + b0 * info.typeSize, 5 + b1 * info.typeSize),
          dst.subarray(b0 * info.blockSize, b1 * info.blockSize),
          b1 - b0,
        );
      }
      expect(new Uint32Array(dst.buffer)).toEqual(new Uint32Array(whole.buffer));
      // decoding again after other work gives the same bits (no state carried between calls)
      const again = dequantize(id, src, n);
      expect(new Uint32Array(again.buffer)).toEqual(new Uint32Array(whole.buffer));
    });
  }
});
