import { describe, expect, it } from 'vitest';
import { referenceMatmul } from '../../src/quant/index.js';
import { generatedTensor } from '../../src/tensor-source.js';
import { activations, cpuRows, referenceOutput, referenceOutputs } from '../../src/verify.js';

describe('referenceOutputs', () => {
  it('gives, for each activation set, the same bits as a separate float64 product', () => {
    const t = generatedTensor(12, 512, 37, 5); // Q4_K
    const inputs = [1, 3, 8].map((batch) => ({ batch, x: activations(512, batch, batch) }));
    const all = referenceOutputs(t, inputs);
    const w = cpuRows(t, 0, t.rows);
    inputs.forEach(({ x, batch }, i) => {
      expect(all[i]).toEqual(referenceMatmul(w, t.rows, t.rowLength, x, batch));
      expect(all[i]).toEqual(referenceOutput(t, x, batch));
    });
  });
});
