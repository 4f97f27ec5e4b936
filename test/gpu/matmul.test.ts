import { describe, expect, it } from 'vitest';
import { GgufFile } from '../../src/gguf/file.js';
import { ggmlTypeById } from '../../src/gguf/ggml-types.js';
import { gpuMatmul, packWeights } from '../../src/gpu/matmul.js';
import { nmse, SUPPORTED_TYPE_IDS } from '../../src/quant/index.js';
import { fileTensor, generatedTensor, type TensorSource } from '../../src/tensor-source.js';
import { activations, NMSE_BAR, referenceOutput } from '../../src/verify.js';
import { QUANTS, REFS } from '../cli/helpers.js';
import { openGpuOrReason } from './gpu-helpers.js';

const { gpu, reason } = openGpuOrReason();

function runOnGpu(t: TensorSource, x: Float32Array, batch: number) {
  const raw = gpu!.alloc(t.nbytes);
  try {
    gpu!.upload(raw, t.read(0, t.nbytes));
    const w = packWeights(gpu!, raw, t.typeId, t.rows, t.rowLength);
    try {
      return gpuMatmul(gpu!, w, x, batch);
    } finally {
      w.dispose();
    }
  } finally {
    raw.dispose();
  }
}

describe.skipIf(!gpu)(`GPU fused dequant + matmul${reason ? ` (${reason})` : ''}`, () => {
  it('matches ggml\'s float64 products on every 2-D fixture tensor (NMSE <= 1e-6)', () => {
    const quants = GgufFile.open(QUANTS);
    const refs = GgufFile.open(REFS);
    try {
      for (const t of quants.tensors.filter((t) => t.shape.length === 2)) {
        const src = fileTensor(quants, t);
        const xName = `x.${t.name.split('.').pop()}`;
        const xt = refs.tensor(xName);
        const xb = refs.readTensorBytes(xt);
        const x = new Float32Array(xb.buffer.slice(xb.byteOffset, xb.byteOffset + xb.length));
        const yb = refs.readTensorBytes(refs.tensor(`y.${t.name}`));
        const want = new Float32Array(yb.buffer.slice(yb.byteOffset, yb.byteOffset + yb.length));
        // The ref y is [rows, 8] in ggml order, i.e. y[j][r] with j the column: the same as ours.
        const run = runOnGpu(src, x, 8);
        expect(run.y.every(Number.isFinite), t.name).toBe(true);
        const e = nmse(run.y, want);
        expect(e, `${t.name} (${run.kernel})`).toBeLessThanOrEqual(NMSE_BAR);
      }
    } finally {
      quants.close();
      refs.close();
    }
  });

  const batches = [1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 64, 512, 600];
  for (const id of SUPPORTED_TYPE_IDS) {
    const name = ggmlTypeById(id)!.name;
    it(`${name}: random weights, awkward row counts, batch ${batches.join(',')}`, () => {
      for (const [rowLength, rows] of [[1024, 37], [2816, 301]] as const) {
        const t = generatedTensor(id, rowLength, rows, 1000 + id);
        for (const batch of batches) {
          const x = activations(rowLength, batch, batch);
          const run = runOnGpu(t, x, batch);
          const e = nmse(run.y, referenceOutput(t, x, batch));
          expect(e, `${name} ${rows}x${rowLength} n=${batch} (${run.kernel})`).toBeLessThanOrEqual(NMSE_BAR);
        }
      }
    });
  }

  it('names a kernel for every type and batch range', () => {
    for (const id of SUPPORTED_TYPE_IDS) {
      for (const batch of [1, 8, 16, 512]) expect(gpu!.matmulKernelName(id, 4096, batch).length).toBeGreaterThan(0);
    }
  });
});
