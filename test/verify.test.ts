import { describe, expect, it } from 'vitest';
import {
  activations, compareF32, cpuSelfCheck, productBytes, referenceOutput, unsupportedReason, type DequantCheck,
} from '../src/verify.js';
import { generatedTensor } from '../src/tensor-source.js';
import { undecodableReason } from '../src/dequant.js';
import { decoderFor, dequantize, referenceMatmul, replaceDecoderForTesting } from '../src/quant/index.js';

const fromBits = (bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);

describe('compareF32', () => {
  it('counts bit differences and their ULP distance; a NaN matches any NaN, never a number', () => {
    const check: DequantCheck = { elements: 0, mismatches: 0, maxUlp: 0 };
    // +0 / -0 differ in bits; 1.0 vs its neighbour is 1 ulp; NaN payloads differ; NaN vs Inf differs
    const got = fromBits([0x00000000, 0x3f800001, 0x7fc00000, 0xffffffff, 0x7f800000, 0x40000000]);
    const want = fromBits([0x80000000, 0x3f800000, 0x7feaa000, 0x7fc00000, 0x7fc00000, 0x40000000]);
    compareF32(got, want, check, 100);
    expect(check).toMatchObject({ elements: 6, mismatches: 3, firstMismatch: 100 });
    expect(check.maxUlp).toBe(0x400000); // Inf against the quiet NaN above it
  });

  it('counts ULPs across zero, and keeps the largest distance, not the last', () => {
    const check: DequantCheck = { elements: 0, mismatches: 0, maxUlp: 0 };
    // 1.0 against -1.0: 0x3f800000 floats above +0 and as many below -0 (+0 and -0 are 0 apart)
    compareF32(fromBits([0x3f800000, 0x3f800005]), fromBits([0xbf800000, 0x3f800000]), check, 0);
    expect(check).toMatchObject({ elements: 2, mismatches: 2, firstMismatch: 0, maxUlp: 0x7f000000 });
    const tiny: DequantCheck = { elements: 0, mismatches: 0, maxUlp: 0 };
    compareF32(fromBits([0x00000001]), fromBits([0x80000001]), tiny, 7); // 2^-149 against -2^-149
    expect(tiny).toMatchObject({ elements: 1, mismatches: 1, firstMismatch: 7, maxUlp: 2 });
  });
});

describe('unsupportedReason', () => {
  const t = generatedTensor(2, 256, 4, 1); // Q4_0; read() is never called
  it('gives the first reason a tensor cannot be checked, or undefined', () => {
    expect(unsupportedReason(t)).toBeUndefined();
    expect(unsupportedReason({ ...t, missing: 'its data lies past the end of the file' })).toBe('its data lies past the end of the file');
    expect(unsupportedReason(t, false)).toMatch(/^big-endian tensor data cannot be decoded/);
    expect(unsupportedReason({ ...t, typeId: 15 })).toBe('type Q8_K is not supported');
    expect(unsupportedReason({ ...t, rows: 0 })).toBe('empty tensor');
    expect(unsupportedReason({ ...t, rowLength: 0 })).toBe('empty tensor');
  });

  it('takes rows of up to 2^26 weights', () => {
    expect(unsupportedReason({ ...t, rowLength: 2 ** 26 })).toBeUndefined();
    expect(unsupportedReason({ ...t, rowLength: 2 ** 26 + 32 })).toBe(
      "rows of 67108896 weights, over the CPU reference's limit of 67108864",
    );
  });
});

describe('cpuSelfCheck', () => {
  it('passes the real decoder and catches one that carries state from call to call', () => {
    const t = generatedTensor(2, 256, 40, 3); // Q4_0: 320 blocks, one chunk
    expect(cpuSelfCheck(t)).toEqual({ elements: 256 * 40, mismatches: 0, maxUlp: 0 });
    const real = decoderFor(2)!.decode;
    let calls = 0;
    // after its first call (the whole chunk), it writes a value Q4_0 cannot give (k * fp16 d, |k| <= 8)
    // into the first weight of each call
    const restore = replaceDecoderForTesting(2, (src, dst, n) => {
      real(src, dst, n);
      if (calls++ > 0) dst[0] = 12345.5;
    });
    try {
      // pieces of 1, 3, 7, 15, 31, 63 and 127 blocks, then the 73 left: 8 calls after the whole one
      expect(cpuSelfCheck(t)).toMatchObject({ elements: 256 * 40, mismatches: 8, firstMismatch: 0 });
    } finally {
      restore();
    }
    expect(decoderFor(2)!.decode).toBe(real);
    expect(cpuSelfCheck(t).mismatches).toBe(0);
  });

  it('places a mismatch found in a later chunk of rows at its index in the whole tensor', () => {
    const t = generatedTensor(2, 2 ** 23, 3, 6); // Q4_0, 2^24 weights a chunk: rows 0-1, then row 2
    const rowBytes = (2 ** 23 / 32) * 18;
    const real = decoderFor(2)!.decode;
    // wrong only on the pieces of row 2 (its blocks come as views into the tensor's bytes), right on the whole row
    const restore = replaceDecoderForTesting(2, (src, dst, n) => {
      real(src, dst, n);
      if (src.byteOffset >= 2 * rowBytes && n < 2 ** 23 / 32) dst[0] = 12345.5;
    });
    try {
      // row 2 is 2^18 blocks: pieces of 1, 3, ..., 2^17 - 1 blocks, then the 19 left, 18 pieces in all
      expect(cpuSelfCheck(t)).toMatchObject({ elements: 3 * 2 ** 23, mismatches: 18, firstMismatch: 2 * 2 ** 23 });
    } finally {
      restore();
    }
  });
});

describe('productBytes', () => {
  it('adds x and y per batch and, with the reference, the float64 y, one chunk of rows and the widest x', () => {
    // 10 rows of 256, one chunk of all 10 rows: per batch b, 4b(10 + 256) + 8b*10 + 8b*10, then
    // 12 * 10 * 256 for the chunk and 8 * 4 * 256 for the widest x
    const t = generatedTensor(2, 256, 10, 1);
    expect(productBytes(t, [1, 4])).toBe(1224 + 4896 + 30720 + 8192);
    expect(productBytes(t, [1, 4], false)).toBe(1064 + 4256);
    // rows of 2^22 weights: a chunk is 4 rows
    const big = generatedTensor(2, 2 ** 22, 100, 1);
    expect(productBytes(big, [2])).toBe(2 * (100 + 2 ** 22) * 4 + 2 * 100 * 8 + 4 * 2 * 8 + 4 * 2 ** 22 * 12 + 2 * 2 ** 22 * 8);
  });
});

describe('undecodableReason', () => {
  it('says why a tensor cannot be decoded: its byte order, a known type we do not take, or an id ggml does not have', () => {
    expect(undecodableReason(2, true)).toBeUndefined(); // Q4_0
    expect(undecodableReason(2, false)).toMatch(/^big-endian tensor data cannot be decoded/);
    expect(undecodableReason(26, true)).toBe('type I32 is not supported');
    expect(undecodableReason(99, true)).toBe('unknown type id 99'); // not "type type#99"
  });
});

describe('referenceOutput', () => {
  it('reports the rows done after each chunk, ending at all of them, and the same y with or without the callback, and as one decode of the whole tensor', () => {
    const t = generatedTensor(2, 2 ** 20, 40, 7); // Q4_0, rows of 2^20 weights: 16 rows a chunk, 3 chunks
    const x = activations(t.rowLength, 2, 3);
    const seen: number[] = [];
    const y = referenceOutput(t, x, 2, (rows) => seen.push(rows));
    expect(seen).toEqual([16, 32, 40]);
    expect(y).toEqual(referenceOutput(t, x, 2));
    // each chunk decoded from its own rows: the same y as one decode of the whole tensor
    const w = dequantize(2, t.read(0, t.nbytes), t.rows * t.rowLength);
    expect(y).toEqual(referenceMatmul(w, t.rows, t.rowLength, x, 2));
  });

  it('reports a tensor of exactly one chunk once', () => {
    const t = generatedTensor(2, 2 ** 23, 2, 5); // 2 rows a chunk
    const seen: number[] = [];
    referenceOutput(t, activations(t.rowLength, 1, 1), 1, (rows) => seen.push(rows));
    expect(seen).toEqual([2]);
  });
});
