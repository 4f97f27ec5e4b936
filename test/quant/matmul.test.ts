import { describe, expect, it } from 'vitest';
import { nmse, referenceMatmul } from '../../src/quant/index.js';

describe('referenceMatmul', () => {
  it('y[j*rows + r] = W row r . x row j', () => {
    // W: 2 rows of length 3; x: batch 2 of length 3
    const W = Float32Array.of(1, 2, 3, -1, 0.5, 4);
    const x = Float32Array.of(1, 1, 1, 2, -1, 0.25);
    const y = referenceMatmul(W, 2, 3, x, 2);
    expect(y).toBeInstanceOf(Float64Array);
    expect([...y]).toEqual([6, 3.5, 0.75, -1.5]);
  });

  it('accumulates in float64', () => {
    const W = Float32Array.of(1, 1, 1);
    const x = Float32Array.of(2 ** 24, 1, 1);
    // in float32, 2^24 + 1 + 1 would stay 2^24
    expect(referenceMatmul(W, 1, 3, x, 1)[0]).toBe(2 ** 24 + 2);
  });

  it('rejects short inputs', () => {
    expect(() => referenceMatmul(new Float32Array(5), 2, 3, new Float32Array(3), 1)).toThrowError('referenceMatmul: W holds 5 values, need 2 x 3');
    expect(() => referenceMatmul(new Float32Array(6), 2, 3, new Float32Array(5), 2)).toThrowError('referenceMatmul: x holds 5 values, need 2 x 3');
  });
});

describe('nmse', () => {
  it('sum((y-ref)^2) / sum(ref^2)', () => {
    expect(nmse([1, 2], [1, 2])).toBe(0);
    expect(nmse([1, 3], [1, 2])).toBeCloseTo(1 / 5, 15);
    expect(nmse(Float32Array.of(0, 0), Float64Array.of(3, 4))).toBe(1);
  });

  it('edge cases', () => {
    expect(nmse([0, 0], [0, 0])).toBe(0);
    expect(nmse([], [])).toBe(0);
    expect(nmse([0, 1e-30], [0, 0])).toBe(Infinity);
    expect(nmse([NaN, 1], [1, 1])).toBeNaN();
    expect(nmse([1, 1], [1, NaN])).toBeNaN();
    expect(nmse([0, 0], [0, NaN])).toBeNaN();
    // a NaN in y against an all-zero reference is NaN, not the Infinity of a non-zero y
    expect(nmse([NaN], [0])).toBeNaN();
    expect(nmse([0, NaN], [0, 0])).toBeNaN();
    expect(() => nmse([1], [1, 2])).toThrowError('nmse: lengths differ (1 vs 2)');
  });
});
