import { describe, expect, it } from 'vitest';
import { activations, compareF32, referenceOutput, type DequantCheck } from '../src/verify.js';
import { generatedTensor } from '../src/tensor-source.js';
import { undecodableReason } from '../src/dequant.js';

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
  it('reports the rows done after each chunk, ending at all of them, and the same y with or without the callback', () => {
    const t = generatedTensor(2, 2 ** 20, 40, 7); // Q4_0, rows of 2^20 weights: 16 rows a chunk, 3 chunks
    const x = activations(t.rowLength, 2, 3);
    const seen: number[] = [];
    const y = referenceOutput(t, x, 2, (rows) => seen.push(rows));
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every((r, i) => i === 0 || r > seen[i - 1]!)).toBe(true);
    expect(seen.at(-1)).toBe(40);
    expect(y).toEqual(referenceOutput(t, x, 2));
  });
});
