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

function runOnGpu(t: TensorSource, x: Float32Array, batch: number, kernel = -1) {
  const raw = gpu!.alloc(t.nbytes);
  try {
    gpu!.upload(raw, t.read(0, t.nbytes));
    const w = packWeights(gpu!, raw, t.typeId, t.rows, t.rowLength);
    try {
      return gpuMatmul(gpu!, w, x, batch, kernel);
    } finally {
      w.dispose();
    }
  } finally {
    raw.dispose();
  }
}

/**
 * Batch sizes of the random-weights tests. GGUF_GPU_TEST_BATCHES (e.g. 1,9,40,65) replaces the list
 * where time is short (scripts/gpu-session.sh, under racecheck); that list still reaches every
 * f16 tensor-core and generic kernel with these row counts (37 and 301): n <= 8 mma_decode_n8 /
 * generic_gemv, 9-16 mma_decode_n16, 17-64 mma_decode_n32 (40: one launch of 32 and the rest on
 * n8), above 64 the prefill GEMM (wgmma_gemm_128x128 or _128x256 on sm_90a, mma_gemm_128x128 elsewhere) when
 * rows * batch >= 8192 (65: 301 rows) and mma_decode_n32 below
 * (65: 37 rows), and generic_gemm above 8. (These problems are too small for the int8 kernels,
 * rows * batch < 2048: the int8 tests below force them and are not affected by the variable.)
 */
function testBatches(): number[] {
  const text = process.env.GGUF_GPU_TEST_BATCHES;
  if (!text) return [1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 64, 512, 600];
  const list = text.split(',').map((b) => Number(b.trim()));
  if (list.length === 0 || !list.every((b) => Number.isInteger(b) && b >= 1 && b <= 4096)) {
    throw new Error(`GGUF_GPU_TEST_BATCHES must be a comma-separated list of batch sizes from 1 to 4096, got "${text}"`);
  }
  return list;
}

/** y's bytes, for comparing results bit for bit. */
const bytes = (y: Float32Array) => Buffer.from(y.buffer, y.byteOffset, y.byteLength);

/** As runOnGpu, but y starts as zeros (not NaN), so a NaN in it was written by the kernel. */
function runZeroed(t: TensorSource, x: Float32Array, batch: number, kernel: number, xOffsetBytes = 0): Float32Array {
  const g = gpu!;
  const raw = g.alloc(t.nbytes);
  const xDev = g.alloc(x.byteLength + xOffsetBytes);
  const yDev = g.alloc(batch * t.rows * 4);
  try {
    g.upload(raw, t.read(0, t.nbytes));
    const w = packWeights(g, raw, t.typeId, t.rows, t.rowLength);
    try {
      g.upload(xDev, new Uint8Array(x.buffer, x.byteOffset, x.byteLength), xOffsetBytes);
      g.check(g.lib.gg_memset(yDev.ptr, 0, yDev.bytes), 'zeroing y');
      // x at xOffsetBytes into its buffer (4: not 16-byte aligned)
      const xPtr = xDev.ptr + BigInt(xOffsetBytes);
      g.check(g.lib.gg_matmul(t.typeId, w.buffer.ptr, xPtr, yDev.ptr, t.rows, t.rowLength, batch, kernel), 'matmul on the GPU');
      const y = new Float32Array(batch * t.rows);
      g.download(yDev, new Uint8Array(y.buffer));
      return y;
    } finally {
      w.dispose();
    }
  } finally {
    raw.dispose();
    xDev.dispose();
    yDev.dispose();
  }
}

/* The first `batch` columns of x through `kernel`: each column's NMSE against ref within `bar` and its
 * bits those of the column run alone (alone[j]); with `unaligned`, x one float past a 16-byte boundary
 * gives the same bits. */
function expectColumns(name: string, t: TensorSource, x: Float32Array, ref: Float64Array, alone: Float32Array[], batch: number,
                       kernel: number, unaligned: boolean, bar = NMSE_BAR) {
  const rows = t.rows;
  const cols = x.subarray(0, batch * t.rowLength);
  const y = runZeroed(t, cols, batch, kernel);
  for (let j = 0; j < batch; ++j) {
    const e = nmse(y.subarray(j * rows, (j + 1) * rows), ref.subarray(j * rows, (j + 1) * rows));
    expect(e, `${name}: column ${j}`).toBeLessThanOrEqual(bar);
    expect(bytes(y.subarray(j * rows, (j + 1) * rows)), `${name}: column ${j} as alone`).toEqual(bytes(alone[j]!));
  }
  if (unaligned) expect(bytes(runZeroed(t, cols, batch, kernel, 4)), `${name}, x unaligned`).toEqual(bytes(y));
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

  const batches = testBatches();
  for (const id of SUPPORTED_TYPE_IDS) {
    const name = ggmlTypeById(id)!.name;
    it(`${name}: random weights, awkward row counts, batch ${batches.join(',')}`, () => {
      const kernels = new Set<string>();
      for (const [rowLength, rows] of [[1024, 37], [2816, 301]] as const) {
        const t = generatedTensor(id, rowLength, rows, 1000 + id);
        for (const batch of batches) {
          const x = activations(rowLength, batch, batch);
          const run = runOnGpu(t, x, batch);
          kernels.add(run.kernel);
          const e = nmse(run.y, referenceOutput(t, x, batch));
          expect(e, `${name} ${rows}x${rowLength} n=${batch} (${run.kernel})`).toBeLessThanOrEqual(NMSE_BAR);
        }
      }
      // the batch sizes reached every f16 tensor-core or generic kernel (also with GGUF_GPU_TEST_BATCHES)
      const tensorCore = !gpu!.matmulKernelName(id, 4096, 4096, 8).startsWith('generic_');
      const prefill = gpu!.matmulKernelName(id, 301, 4096, 65); // the GEMM these 301-row shapes reach (few tiles: 128 columns)
      const all = tensorCore ? ['mma_decode_n8', 'mma_decode_n16', 'mma_decode_n32', prefill] : ['generic_gemv', 'generic_gemm'];
      expect([...kernels], `${name}: kernels reached at batch ${batches.join(',')}`).toEqual(expect.arrayContaining(all));
    });
  }

  // Kernel indices 6..8 of kernels/matmul.cu: the int8 decode kernels (4, 8 and 16 columns per
  // launch). Forced here, because the dispatch table sends small problems elsewhere.
  const I8_KERNELS = [6, 7, 8];
  // Kernel 11, imma_gemv_n1: one column, a CTA per 16 rows over the whole row.
  const GEMV_I8 = 11;
  // Kernels 15 and 16, imma_gemv_n4 / _n8: 1 to 4 / 8 columns in imma_gemv_n1's form (16 warps, one
  // CTA per SM; the 8-column kernel streams the row in two parts, adding the second part's sums to y).
  const GEMV_WIDE = [[15, 'imma_gemv_n4', 4], [16, 'imma_gemv_n8', 8]] as const;
  const I8_TYPES = [2, 8, 12]; // Q4_0, Q8_0, Q4_K
  const GEMV_I8_TYPES = [...I8_TYPES, 14]; // imma_gemv_n1 takes Q6_K too
  // GGUF_GPU_TEST_I8_BATCHES shortens the list for the sanitizer runs (scripts/gpu-session.sh).
  const I8_BATCHES = (process.env.GGUF_GPU_TEST_I8_BATCHES ?? '1,2,3,4,5,7,8,9,13,16,17').split(',').map(Number);
  it('chained products, each reading the one before it, queued without waiting (launches that overlap their predecessor wait for it)', () => {
    // The decode kernels start streaming weights before the previous kernel has finished
    // (programmatic dependent launch on sm_90): x, y and the split-K scratch must still wait. Each
    // level's x is the previous level's y, poisoned with NaN until that kernel writes it.
    const g = gpu!;
    const size = 4096;
    const levels = 3;
    for (const [id, batch] of [[2, 1], [14, 1], [12, 3], [14, 8], [8, 16]] as const) {
      const t = generatedTensor(id, size, size, 4100 + id);
      const raw = g.alloc(t.nbytes);
      const ys = Array.from({ length: levels + 1 }, () => g.alloc(batch * size * 4));
      try {
        g.upload(raw, t.read(0, t.nbytes));
        const w = packWeights(g, raw, id, size, size);
        try {
          const x0 = activations(size, batch, 99 + id);
          g.upload(ys[0]!, new Uint8Array(x0.buffer));
          for (let i = 1; i <= levels; i++) g.memsetPoison(ys[i]!);
          for (let i = 1; i <= levels; i++) g.matmul(id, w.buffer, ys[i - 1]!, ys[i]!, size, size, batch);
          const host = ys.map((y) => {
            const v = new Float32Array(batch * size);
            g.download(y, new Uint8Array(v.buffer));
            return v;
          });
          for (let i = 1; i <= levels; i++) {
            const e = nmse(host[i]!, referenceOutput(t, host[i - 1]!, batch));
            expect(e, `${ggmlTypeById(id)!.name} n=${batch} level ${i} (${g.matmulKernelName(id, size, size, batch)})`).toBeLessThanOrEqual(NMSE_BAR);
          }
        } finally {
          w.dispose();
        }
      } finally {
        raw.dispose();
        for (const y of ys) y.dispose();
      }
    }
  });

  it('int8 decode kernels: every batch 1..17 on awkward shapes, each kernel forced', () => {
    // K with odd block counts and a short last decode unit (the 32-weight types), and one block
    const shapes = (id: number) =>
      id === 12 ? [[1024, 37], [2816, 301], [4096, 128], [1280, 50], [256, 20]] : [[1024, 37], [2816, 301], [4096, 128], [2880, 37], [1056, 50], [32, 20]];
    for (const id of I8_TYPES) {
      for (const [rowLength, rows] of shapes(id)) {
        const t = generatedTensor(id, rowLength!, rows!, 2000 + id);
        for (const kernel of I8_KERNELS) {
          for (const batch of I8_BATCHES) {
            const x = activations(rowLength!, batch, 7 * batch + kernel);
            const run = runOnGpu(t, x, batch, kernel);
            const e = nmse(run.y, referenceOutput(t, x, batch));
            expect(e, `${ggmlTypeById(id)!.name} ${rows}x${rowLength} n=${batch} kernel ${kernel}`).toBeLessThanOrEqual(NMSE_BAR);
          }
        }
        const x = activations(rowLength!, 1, 31 + id);
        const e = nmse(runOnGpu(t, x, 1, GEMV_I8).y, referenceOutput(t, x, 1));
        expect(e, `${ggmlTypeById(id)!.name} ${rows}x${rowLength} n=1 kernel ${GEMV_I8}`).toBeLessThanOrEqual(NMSE_BAR);
      }
    }
  });

  it('int8 decode kernels: columns of zeros, tiny and huge activations keep their own accuracy', () => {
    const rowLength = 2048;
    const rows = 160;
    const batch = 6;
    for (const id of I8_TYPES) {
      // column 5: large enough that sx * v overflows f32 in a block of Q4_0 / Q8_0 while y does not
      // (max |y| of this tensor: Q4_0 1.7e37 at 1e36, Q8_0 6.5e37 at 2e35; Q4_K's weights reach ~100,
      // so it gets 1e34: 1.4e37)
      const scales = [0, 1e-30, 1e30, 1, -1, id === 2 ? 1e36 : id === 8 ? 2e35 : 1e34];
      const x = activations(rowLength, batch, 99);
      for (let j = 0; j < batch; j++) for (let k = 0; k < rowLength; k++) x[j * rowLength + k]! *= scales[j]!;
      // column 4: every other block 1e6 times larger, so block scales differ wildly along k
      for (let k = 0; k < rowLength; k++) if ((k >> 5) & 1) x[4 * rowLength + k]! *= 1e6;
      const t = generatedTensor(id, rowLength, rows, 3000 + id);
      const ref = referenceOutput(t, x, batch);
      for (const kernel of I8_KERNELS) {
        const run = runOnGpu(t, x, batch, kernel);
        for (let j = 0; j < batch; j++) {
          const got = run.y.subarray(j * rows, (j + 1) * rows);
          const want = ref.subarray(j * rows, (j + 1) * rows);
          const e = nmse(got, want);
          expect(e, `${ggmlTypeById(id)!.name} kernel ${kernel} column ${j} (x scale ${scales[j]})`).toBeLessThanOrEqual(NMSE_BAR);
        }
      }
      for (let j = 0; j < batch; j++) {
        const xj = x.subarray(j * rowLength, (j + 1) * rowLength);
        const e = nmse(runOnGpu(t, xj, 1, GEMV_I8).y, ref.subarray(j * rows, (j + 1) * rows));
        expect(e, `${ggmlTypeById(id)!.name} kernel ${GEMV_I8} column ${j} (x scale ${scales[j]})`).toBeLessThanOrEqual(NMSE_BAR);
      }
    }
  });

  // Kernel indices 5, 9, 10, 13 and 14: the prefill GEMMs (mma.sync; wgmma with 128- and 256-column tiles
  // on sm_90a, plain and warp-specialized), forced on row counts and batches that are not multiples of their tiles, and odd chunk
  // counts (these small shapes cut K in two parts that add into y).
  const wgmma = gpu ? gpu.matmulKernelName(2, 4096, 14336, 512).startsWith('wgmma_') : false;
  // GGUF_GPU_TEST_PREFILL_BATCHES shortens the list for the sanitizer runs (scripts/gpu-session.sh).
  const PREFILL_BATCHES = (process.env.GGUF_GPU_TEST_PREFILL_BATCHES ?? '65,130,257').split(',').map(Number);
  const PREFILL_KERNELS = wgmma ? [5, 9, 10, 13, 14] : [5];
  it('prefill GEMMs, each forced, on awkward shapes', () => {
    const kernels = PREFILL_KERNELS;
    for (const id of [2, 8, 12, 14]) {
      const short = id === 2 || id === 8 ? 160 : 768; // 3 chunks of 64 (Q4_0 / Q8_0: 5 blocks, one of padding)
      for (const [rowLength, rows] of [[1024, 37], [2816, 301], [short, 200]] as const) {
        const t = generatedTensor(id, rowLength, rows, 7000 + id);
        for (const batch of PREFILL_BATCHES) {
          const x = activations(rowLength, batch, 13 * batch);
          const ref = referenceOutput(t, x, batch);
          for (const kernel of kernels) {
            const run = runOnGpu(t, x, batch, kernel);
            const e = nmse(run.y, ref);
            expect(e, `${ggmlTypeById(id)!.name} ${rows}x${rowLength} n=${batch} (${run.kernel})`).toBeLessThanOrEqual(NMSE_BAR);
          }
        }
      }
    }
  });

  // One K chunk (Q4_0, K = 64): the wgmma GEMMs cannot cut K and take the whole range in one part.
  it('prefill GEMMs, each forced, on a single K chunk', () => {
    const kernels = PREFILL_KERNELS;
    const t = generatedTensor(2, 64, 301, 7200);
    const x = activations(64, 130, 31);
    const ref = referenceOutput(t, x, 130);
    for (const kernel of kernels) {
      const run = runOnGpu(t, x, 130, kernel);
      expect(nmse(run.y, ref), `Q4_0 301x64 n=130 (${run.kernel})`).toBeLessThanOrEqual(NMSE_BAR);
    }
  });

  // K cut in two parts that add into y: the same bits on every run (a two-term sum does not depend on the order).
  it('the wgmma GEMMs give the same bits on every run, K cut in two included', () => {
    const t = generatedTensor(14, 2048, 301, 7300);
    const x = activations(2048, 257, 41);
    for (const kernel of wgmma ? [9, 10, 13, 14] : [5]) {
      const first = runOnGpu(t, x, 257, kernel).y;
      for (let i = 0; i < 3; i++) expect(bytes(runOnGpu(t, x, 257, kernel).y).equals(bytes(first)), `kernel ${kernel} run ${i}`).toBe(true);
    }
  });

  // The warp-specialized GEMMs (13, 14) do the plain ones' (9, 10) products in the same order: the same bits.
  it.runIf(wgmma)('wgmma_ws_* give the bits of wgmma_gemm_*, every tensor-core type, K cut in two and not', () => {
    for (const id of [2, 8, 12, 14]) {
      for (const [rowLength, rows, batch] of [[2048, 301, 257], [1024, 8500, 130]] as const) {
        const t = generatedTensor(id, rowLength, rows, 7400 + id);
        const x = activations(rowLength, batch, 43);
        for (const [plain, ws] of [[9, 13], [10, 14]]) {
          const a = runOnGpu(t, x, batch, plain), b = runOnGpu(t, x, batch, ws);
          expect(b.kernel).toMatch(/^wgmma_ws_/);
          expect(bytes(b.y).equals(bytes(a.y)), `${ggmlTypeById(id)!.name} ${rows}x${rowLength} n=${batch}: ${b.kernel} vs ${a.kernel}`).toBe(true);
        }
      }
    }
  });

  // Products big enough that the GEMM cuts K in two (fewer tiles than SMs), the bench's shape among them,
  // with one column that k_ximage rewrites with a scale (1e30) in the first column tile and none in the
  // others; odd pass counts of k_ximage (K = 3584: 7 passes of 512), K not a multiple of a pass (3520),
  // batches not a multiple of the tile's columns. The ws GEMMs give the plain GEMMs' bits (the overlapped
  // form of branch wip/v77b is judged by the same test, NOTES v77).
  it.runIf(wgmma)('wgmma_gemm_* on the bench shape, one column rescaled: the bits of wgmma_ws_*, each column accurate', () => {
    const cases = [[2, 14336, 4096, 512], [12, 3584, 1100, 300], [8, 3520, 1100, 130], [14, 3584, 2048, 257]] as const;
    for (const [id, rowLength, rows, batch] of cases) {
      const t = generatedTensor(id, rowLength, rows, 7600 + id);
      const x = activations(rowLength, batch, 53);
      const huge = 5; // column 5, in the first column tile
      for (let k = 0; k < rowLength; k++) x[huge * rowLength + k]! *= 1e30;
      const name = `${ggmlTypeById(id)!.name} ${rows}x${rowLength} n=${batch}`;
      const checked = [0, huge, batch - 1]; // another column of the rescaled one's tile, the rescaled one, the last
      const sub = new Float32Array(checked.length * rowLength);
      checked.forEach((j, i) => sub.set(x.subarray(j * rowLength, (j + 1) * rowLength), i * rowLength));
      const ref = referenceOutput(t, sub, checked.length);
      for (const [plain, ws] of [[9, 13], [10, 14]]) {
        const a = runZeroed(t, x, batch, plain), b = runZeroed(t, x, batch, ws);
        expect(bytes(a).equals(bytes(b)), `${name}: kernel ${plain} vs ${ws}`).toBe(true);
        checked.forEach((j, i) => {
          const e = nmse(a.subarray(j * rows, (j + 1) * rows), ref.subarray(i * rows, (i + 1) * rows));
          expect(e, `${name} kernel ${plain} column ${j}`).toBeLessThanOrEqual(NMSE_BAR);
        });
      }
    }
  });

  // The wgmma GEMMs' x image (k_ximage) takes f16(x) as it is where a column's max |x| is in [2^-8, 2^15)
  // and has the last CTA of each group of 8 columns rewrite the others with a power-of-two scale: zero,
  // tiny and huge columns must keep their accuracy, a NaN must stay in its column, and x at a 4-byte
  // offset (scalar loads) must give the same bits. 130 columns leave the last tile partly empty.
  it('prefill GEMMs: columns of zeros, tiny, huge and NaN activations; x at any 4-byte alignment', () => {
    const rowLength = 1024;
    const rows = 301;
    const batch = 130;
    const scales = [0, 1e-30, 5e-4, 1, 1e4, 1e30, -1e5, 1e-2]; // column j: scales[j % 8]
    const nanColumn = 11;
    for (const id of [2, 8, 12, 14]) {
      const t = generatedTensor(id, rowLength, rows, 7500 + id);
      const x = activations(rowLength, batch, 47);
      for (let j = 0; j < batch; j++) for (let k = 0; k < rowLength; k++) x[j * rowLength + k]! *= scales[j % 8]!;
      x[nanColumn * rowLength + 100] = NaN;
      const ref = referenceOutput(t, x, batch);
      for (const kernel of PREFILL_KERNELS) {
        const y = runZeroed(t, x, batch, kernel);
        const name = `${ggmlTypeById(id)!.name} kernel ${kernel}`;
        expect(bytes(runZeroed(t, x, batch, kernel, 4)).equals(bytes(y)), `${name}: x at a 4-byte offset`).toBe(true);
        for (let j = 0; j < batch; j++) {
          const got = y.subarray(j * rows, (j + 1) * rows);
          if (j === nanColumn) {
            expect(got.every((v) => Number.isNaN(v)), `${name}: column ${j} holds the NaN`).toBe(true);
            continue;
          }
          const e = nmse(got, ref.subarray(j * rows, (j + 1) * rows));
          expect(e, `${name} column ${j} (x scale ${scales[j % 8]})`).toBeLessThanOrEqual(NMSE_BAR);
        }
      }
    }
  });

  // Enough tiles (67 row tiles x 2 of 256 columns) that the wgmma GEMMs do not cut K: each output is stored once.
  it('prefill GEMMs, each forced, on a shape with more tiles than half the SMs', () => {
    const kernels = PREFILL_KERNELS;
    const t = generatedTensor(2, 160, 8500, 7100);
    const batch = 257;
    const x = activations(160, batch, 99);
    const ref = referenceOutput(t, x, batch);
    for (const kernel of kernels) {
      const run = runOnGpu(t, x, batch, kernel);
      expect(nmse(run.y, ref), `Q4_0 8500x160 n=${batch} (${run.kernel})`).toBeLessThanOrEqual(NMSE_BAR);
    }
  });

  it.skipIf(wgmma)('the wgmma kernels refuse a device or library without sm_90a, and say so', () => {
    const t = generatedTensor(2, 256, 128, 5);
    for (const kernel of [9, 10, 13, 14]) expect(() => runOnGpu(t, activations(256, 65, 1), 65, kernel)).toThrow(/wgmma kernels need an sm_90 device/);
  });

  // 4096 rows: 8 slices per row block at this K, every tensor-core type through the dispatch table.
  it('tall matrices through the dispatch table, every tensor-core type', () => {
    for (const id of [2, 8, 12, 14]) {
      const t = generatedTensor(id, 2048, 4096, 4000 + id);
      for (const batch of [1, 3, 8, 16]) {
        const x = activations(2048, batch, 11 * batch);
        const run = runOnGpu(t, x, batch);
        const e = nmse(run.y, referenceOutput(t, x, batch));
        expect(e, `${ggmlTypeById(id)!.name} 4096x2048 n=${batch} (${run.kernel})`).toBeLessThanOrEqual(NMSE_BAR);
      }
    }
  });

  it('imma_gemv_n1 over more row groups than its grid has CTAs (each CTA takes several), rows not a multiple of 16', () => {
    for (const id of GEMV_I8_TYPES) {
      const t = generatedTensor(id, 2048, 9001, 4500 + id); // 563 row groups; the grid has at most 2 CTAs per SM
      const x = activations(2048, 1, 45);
      const run = runOnGpu(t, x, 1);
      expect(run.kernel).toBe('imma_gemv_n1');
      expect(nmse(run.y, referenceOutput(t, x, 1)), `${ggmlTypeById(id)!.name} 9001x2048`).toBeLessThanOrEqual(NMSE_BAR);
    }
  });

  it('imma_gemv_n1 reads x at any 4-byte alignment (the same bits as aligned x)', () => {
    for (const id of GEMV_I8_TYPES) {
      for (const [rowLength, rows] of [[12288, 40], [768, 19]] as const) {
        const t = generatedTensor(id, rowLength, rows, 4700 + id);
        const x = activations(rowLength, 1, 47);
        const aligned = runZeroed(t, x, 1, GEMV_I8);
        const name = `${ggmlTypeById(id)!.name} ${rows}x${rowLength}`;
        expect(nmse(aligned, referenceOutput(t, x, 1)), name).toBeLessThanOrEqual(NMSE_BAR);
        // x one float past a 16-byte boundary: scalar loads
        expect(Array.from(runZeroed(t, x, 1, GEMV_I8, 4)), `${name}, x unaligned`).toEqual(Array.from(aligned));
      }
    }
  });

  for (const [kernel, kname, maxCols] of GEMV_WIDE) {
    it(`${kname}: 1 to ${maxCols} columns, awkward shapes, x at any 4-byte alignment; each column the same bits as alone`, () => {
      // Shapes: a long row; rows not a multiple of 16; a row shorter than 16 units (empty sixteenths,
      // an empty second part); more row groups than the grid has CTAs (each CTA takes several).
      const shapes = [[14336, 40], [768, 19], [256, 5], [2048, 2001]] as const;
      const batches = maxCols === 4 ? [1, 2, 3, 4] : [1, 5, 8];
      for (const id of I8_TYPES) {
        for (const [rowLength, rows] of shapes) {
          const t = generatedTensor(id, rowLength, rows, 4900 + id);
          const x = activations(rowLength, maxCols, 49);
          x[3 * rowLength + 5] = 1e30; // column 3: one block far above the rest
          x[2 * rowLength + rowLength - 1] = 1e-30; // column 2: a tiny value in its last block
          const ref = referenceOutput(t, x, maxCols);
          const alone = Array.from({ length: maxCols }, (_, j) => runZeroed(t, x.subarray(j * rowLength, (j + 1) * rowLength), 1, kernel));
          for (const batch of batches) {
            const name = `${ggmlTypeById(id)!.name} ${rows}x${rowLength} n=${batch} (${kname})`;
            expectColumns(name, t, x, ref, alone, batch, kernel, batch === 3 || batch === 5 || rowLength === 768);
          }
        }
      }
    });

    it(`${kname}: a NaN makes its column NaN only; more than ${maxCols} columns and rows it cannot hold are refused`, () => {
      const rowLength = 1024;
      const rows = 48;
      for (const id of I8_TYPES) {
        const t = generatedTensor(id, rowLength, rows, 6100 + id);
        const x = activations(rowLength, 3, 61);
        x[rowLength + 77] = NaN; // column 1
        const y = runZeroed(t, x, 3, kernel);
        expect(y.subarray(rows, 2 * rows).every(Number.isNaN), 'column 1 all NaN').toBe(true);
        const ref = referenceOutput(t, Float32Array.from(x, (v) => (Number.isNaN(v) ? 0 : v)), 3);
        for (const j of [0, 2]) {
          const e = nmse(y.subarray(j * rows, (j + 1) * rows), ref.subarray(j * rows, (j + 1) * rows));
          expect(e, `${ggmlTypeById(id)!.name}: column ${j}`).toBeLessThanOrEqual(NMSE_BAR);
        }
        const over = maxCols + 1;
        expect(() => runOnGpu(t, activations(rowLength, over, 1), over, kernel)).toThrow(new RegExp(`${kname} takes 1 to ${maxCols} columns`));
        expect(() => runOnGpu(generatedTensor(id, 28672, 16, 7), activations(28672, 2, 7), 2, kernel)).toThrow(new RegExp(`${kname} cannot hold a row of 28672`));
      }
    });
  }

  // Q6_K on the wide int8 gemvs: a tile holds two of its columns, so imma_gemv_n4 takes 1 to 2 and imma_gemv_n8 1 to 4.
  for (const [kernel, kname] of GEMV_WIDE) {
    const maxCols = kname === 'imma_gemv_n4' ? 2 : 4;
    it(`${kname} (Q6_K): 1 to ${maxCols} columns, awkward shapes, x at any 4-byte alignment, each column the same bits as alone; NaN; refusals`, () => {
      for (const [rowLength, rows] of [[14336, 40], [768, 19], [256, 5], [2048, 2001]] as const) {
        const t = generatedTensor(14, rowLength, rows, 4914);
        const x = activations(rowLength, maxCols, 49);
        x[rowLength + 5] = 1e30; // column 1: one block far above the rest
        x[rowLength - 1] = 1e-30; // column 0: a tiny value in its last block
        const ref = referenceOutput(t, x, maxCols);
        const alone = Array.from({ length: maxCols }, (_, j) => runZeroed(t, x.subarray(j * rowLength, (j + 1) * rowLength), 1, kernel));
        for (let batch = 1; batch <= maxCols; batch++) {
          expectColumns(`Q6_K ${rows}x${rowLength} n=${batch} (${kname})`, t, x, ref, alone, batch, kernel, batch === maxCols || rowLength === 768);
        }
      }
      const rowLength = 1024;
      const rows = 48;
      const t = generatedTensor(14, rowLength, rows, 6114);
      const x = activations(rowLength, 2, 61);
      x[rowLength + 77] = NaN; // column 1
      const y = runZeroed(t, x, 2, kernel);
      expect(y.subarray(rows, 2 * rows).every(Number.isNaN), 'column 1 all NaN').toBe(true);
      const ref = referenceOutput(t, Float32Array.from(x, (v) => (Number.isNaN(v) ? 0 : v)), 2);
      expect(nmse(y.subarray(0, rows), ref.subarray(0, rows)), 'Q6_K: column 0').toBeLessThanOrEqual(NMSE_BAR);
      const over = maxCols + 1;
      expect(() => runOnGpu(t, activations(rowLength, over, 1), over, kernel)).toThrow(new RegExp(`${kname} takes 1 to ${maxCols} columns`));
      expect(() => runOnGpu(generatedTensor(14, 28672, 16, 7), activations(28672, 2, 7), 2, kernel)).toThrow(new RegExp(`${kname} cannot hold a row of 28672`));
    });
  }

  it('int8 decode kernels: a NaN in x makes its column NaN and leaves the others alone', () => {
    const rowLength = 1024;
    const rows = 48;
    const batch = 3;
    const x = activations(rowLength, batch, 5);
    x[rowLength + 77] = NaN; // column 1
    for (const id of I8_TYPES) {
      const t = generatedTensor(id, rowLength, rows, 6000 + id);
      const clean = Float32Array.from(x, (v) => (Number.isNaN(v) ? 0 : v));
      const ref = referenceOutput(t, clean, batch);
      for (const kernel of I8_KERNELS) {
        const run = { y: runZeroed(t, x, batch, kernel) };
        const name = `${ggmlTypeById(id)!.name} kernel ${kernel}`;
        expect(run.y.subarray(rows, 2 * rows).every(Number.isNaN), `${name}: column 1 all NaN`).toBe(true);
        for (const j of [0, 2]) {
          const e = nmse(run.y.subarray(j * rows, (j + 1) * rows), ref.subarray(j * rows, (j + 1) * rows));
          expect(e, `${name}: column ${j}`).toBeLessThanOrEqual(NMSE_BAR);
        }
      }
      const col = (j: number) => x.subarray(j * rowLength, (j + 1) * rowLength);
      expect(runZeroed(t, col(1), 1, GEMV_I8).every(Number.isNaN), 'imma_gemv_n1: the NaN column all NaN').toBe(true);
      const inf = Float32Array.from(col(0));
      inf[300] = -Infinity;
      expect(runZeroed(t, inf, 1, GEMV_I8).every(Number.isNaN), 'imma_gemv_n1: a column with -Inf all NaN').toBe(true);
      const e = nmse(runZeroed(t, col(0), 1, GEMV_I8), ref.subarray(0, rows));
      expect(e, 'imma_gemv_n1: a clean column').toBeLessThanOrEqual(NMSE_BAR);
    }
  });

  it('int8 decode kernels refuse Q6_K with a clear error', () => {
    const t = generatedTensor(14, 256, 16, 5);
    expect(() => runOnGpu(t, activations(256, 1, 1), 1, 6)).toThrow(/int8 decode kernels do not take Q6_K/);
  });

  it('dispatches decode batches of the int8 types to the int8 kernels, Q6_K\'s 1 to 4 to the int8 gemvs and its 5 to 8 to mma_gemv_n8', () => {
    for (const id of I8_TYPES) {
      expect(gpu!.matmulKernelName(id, 4096, 8192, 1)).toBe('imma_gemv_n1'); // fits in every device's shared memory
      expect(gpu!.matmulKernelName(id, 4096, 28672, 1)).toBe('imma_decode_n4'); // fits in none
      expect(() => runOnGpu(generatedTensor(id, 28672, 16, 7), activations(28672, 1, 7), 1, GEMV_I8)).toThrow(/imma_gemv_n1 cannot hold a row of 28672/);
      for (const batch of [2, 3, 4]) {
        // imma_gemv_n4 where the row is at least 4096 weights and fits its shared memory (sm_90: 14848)
        if (gpu!.info.computeCapability === '9.0') expect(gpu!.matmulKernelName(id, 4096, 14336, batch)).toBe('imma_gemv_n4');
        expect(gpu!.matmulKernelName(id, 4096, 2048, batch)).toBe('imma_decode_n4'); // too short: idle warps
        expect(gpu!.matmulKernelName(id, 4096, 28672, batch)).toBe('imma_decode_n4'); // fits in none
      }
      for (const batch of [5, 8]) {
        if (gpu!.info.computeCapability === '9.0') expect(gpu!.matmulKernelName(id, 4096, 14336, batch)).toBe('imma_gemv_n8');
        expect(gpu!.matmulKernelName(id, 4096, 2048, batch)).toBe('mma_decode_n8'); // too short: idle warps
        expect(gpu!.matmulKernelName(id, 4096, 28672, batch)).toBe('mma_decode_n8'); // fits in none
      }
      for (const batch of [9, 16]) {
        // mma_gemv_n16 where the row is at least 4096 weights and fits its shared memory (sm_90: 19456, Q8_0 19968)
        if (gpu!.info.computeCapability === '9.0') expect(gpu!.matmulKernelName(id, 4096, 14336, batch)).toBe('mma_gemv_n16');
        expect(gpu!.matmulKernelName(id, 4096, 2048, batch)).toBe('mma_decode_n16'); // too short: idle warps
        expect(gpu!.matmulKernelName(id, 4096, 28672, batch)).toBe('mma_decode_n16'); // fits in none
        expect(gpu!.matmulKernelName(id, 100, 14336, batch)).toBe('mma_decode_n16'); // small: the hi/lo split
      }
      expect(gpu!.matmulKernelName(id, 4096, 14336, 17)).toBe('mma_decode_n32');
    }
    expect(gpu!.matmulKernelName(14, 4096, 14336, 1)).toBe('imma_gemv_n1');
    expect(gpu!.matmulKernelName(14, 4096, 16384, 1)).toBe('mma_decode_n8'); // its row does not fit
    expect(gpu!.matmulKernelName(14, 100, 14336, 1)).toBe('mma_decode_n8'); // small: the hi/lo split
    // 2 columns: imma_gemv_n4 (a tile holds two Q6_K columns) where the row is at least 4096 weights and fits (sm_90: 23296)
    if (gpu!.info.computeCapability === '9.0') expect(gpu!.matmulKernelName(14, 4096, 14336, 2)).toBe('imma_gemv_n4');
    expect(gpu!.matmulKernelName(14, 4096, 2048, 2)).toBe('mma_decode_n8'); // too short: idle warps
    expect(gpu!.matmulKernelName(14, 4096, 28672, 2)).toBe('mma_decode_n8'); // its row does not fit
    for (const batch of [3, 4]) {
      // imma_gemv_n8 where the row is at least 4096 weights and fits its shared memory (sm_90: 23040)
      if (gpu!.info.computeCapability === '9.0') expect(gpu!.matmulKernelName(14, 4096, 16384, batch)).toBe('imma_gemv_n8');
      expect(gpu!.matmulKernelName(14, 4096, 2048, batch)).toBe('mma_decode_n8'); // too short: idle warps
      expect(gpu!.matmulKernelName(14, 4096, 28672, batch)).toBe('mma_decode_n8'); // its row does not fit
      expect(gpu!.matmulKernelName(14, 100, 14336, batch)).toBe('mma_decode_n8'); // small: the hi/lo split
    }
    for (const batch of [5, 8]) {
      if (gpu!.info.computeCapability === '9.0') expect(gpu!.matmulKernelName(14, 4096, 14336, batch)).toBe('mma_gemv_n8');
      expect(gpu!.matmulKernelName(14, 4096, 2048, batch)).toBe('mma_decode_n8'); // too short: idle warps
      expect(gpu!.matmulKernelName(14, 4096, 16384, batch)).toBe('mma_decode_n8'); // its row does not fit
    }
    for (const batch of [9, 16]) {
      if (gpu!.info.computeCapability === '9.0') expect(gpu!.matmulKernelName(14, 4096, 14336, batch)).toBe('mma_gemv_n16');
      expect(gpu!.matmulKernelName(14, 4096, 16384, batch)).toBe('mma_decode_n16'); // its row does not fit (sm_90: 15360)
    }
  });

  // Kernel 12, mma_gemv_n1: Q6_K, one column, a CTA per 16 rows over the whole row (f16 x, one power-of-two
  // scale per eighth of the row). Kernel 11, imma_gemv_n1, takes Q6_K in the same form (x's int8 digits,
  // a scale per 32 weights; a pair of 16-weight steps in separate tile columns).
  const GEMV_F16 = 12;
  for (const [kernel, kname] of [[GEMV_F16, 'mma_gemv_n1'], [GEMV_I8, 'imma_gemv_n1']] as const) {
    it(`${kname} (Q6_K): awkward shapes, several row groups per CTA, eighths of wildly different scale, zero, NaN and -Inf columns`, () => {
      for (const [rowLength, rows] of [[1280, 301], [3328, 100], [14336, 160], [2048, 9001], [256, 17]] as const) {
        const t = generatedTensor(14, rowLength, rows, 5100 + rows);
        const x = activations(rowLength, 1, rows);
        const run = runOnGpu(t, x, 1, kernel);
        expect(run.kernel).toBe(kname);
        expect(nmse(run.y, referenceOutput(t, x, 1)), `Q6_K ${rows}x${rowLength}`).toBeLessThanOrEqual(NMSE_BAR);
      }
      const rowLength = 14336;
      const t = generatedTensor(14, rowLength, 200, 5200);
      for (const scale of [1e-30, 1e25]) {
        const x = activations(rowLength, 1, 52);
        for (let k = 0; k < rowLength; k++) x[k]! *= scale * ((k / 1792) & 1 ? 1e5 : 1); // every other eighth 1e5 larger
        const e = nmse(runOnGpu(t, x, 1, kernel).y, referenceOutput(t, x, 1));
        expect(e, `Q6_K 200x14336, x scale ${scale}`).toBeLessThanOrEqual(NMSE_BAR);
      }
      expect(runZeroed(t, new Float32Array(rowLength), 1, kernel).every((v) => v === 0), 'x all zero: y all zero').toBe(true);
      const nan = activations(rowLength, 1, 53);
      nan[5000] = NaN;
      expect(runZeroed(t, nan, 1, kernel).every(Number.isNaN), 'a NaN in x: every output NaN').toBe(true);
      const inf = activations(rowLength, 1, 54);
      inf[77] = -Infinity;
      // the int8 digits flag a non-finite block (NaN); f16 x keeps the infinity (+-Inf, or NaN where w = 0)
      const bad = kernel === GEMV_I8 ? Number.isNaN : (v: number) => !Number.isFinite(v);
      expect(runZeroed(t, inf, 1, kernel).every(bad), 'a -Inf in x: no finite output').toBe(true);
    });
  }

  it('mma_gemv_n1 refuses other types, more columns and rows it cannot hold, with clear errors', () => {
    expect(() => runOnGpu(generatedTensor(2, 256, 32, 5), activations(256, 1, 1), 1, GEMV_F16)).toThrow(/mma_gemv_n1 takes Q6_K only/);
    expect(() => runOnGpu(generatedTensor(14, 256, 32, 5), activations(256, 2, 1), 2, GEMV_F16)).toThrow(/mma_gemv_n1 takes one column/);
    expect(() => runOnGpu(generatedTensor(14, 16384, 16, 5), activations(16384, 1, 1), 1, GEMV_F16)).toThrow(/mma_gemv_n1 cannot hold a row of 16384/);
    expect(() => runOnGpu(generatedTensor(14, 15360, 16, 5), activations(15360, 1, 1), 1, GEMV_I8)).toThrow(/imma_gemv_n1 cannot hold a row of 15360/);
    expect(() => runOnGpu(generatedTensor(14, 256, 32, 5), activations(256, 2, 1), 2, GEMV_I8)).toThrow(/imma_gemv_n1 takes one column/);
  });

  // Kernels 17 and 18, mma_gemv_n4 / _n8: Q6_K, 1 to 4 / 8 columns in mma_gemv_n1's form (16 warps, one CTA
  // per SM; f16 x, one power-of-two scale per sixteenth of the row, or of its part, and column; the
  // 8-column kernel streams the row in two parts, adding the second part's sums to y).
  const GEMV_F16_WIDE = [[17, 'mma_gemv_n4', 4], [18, 'mma_gemv_n8', 8]] as const;
  for (const [kernel, kname, maxCols] of GEMV_F16_WIDE) {
    it(`${kname} (Q6_K): 1 to ${maxCols} columns, awkward shapes, x at any 4-byte alignment; each column the same bits as alone`, () => {
      // a long row; rows not a multiple of 16; a row shorter than 16 units (empty sixteenths, an empty
      // second part); more row groups than the grid has CTAs
      const batches = maxCols === 4 ? [1, 2, 3, 4] : [1, 5, 8];
      for (const [rowLength, rows] of [[14336, 40], [768, 19], [256, 5], [2048, 2001]] as const) {
        const t = generatedTensor(14, rowLength, rows, 5300 + rows);
        const x = activations(rowLength, maxCols, 53);
        x[3 * rowLength + 5] = 1e30; // column 3: one value far above the rest
        x[2 * rowLength + rowLength - 1] = 1e-30; // column 2: a tiny value at its end
        const ref = referenceOutput(t, x, maxCols);
        const alone = Array.from({ length: maxCols }, (_, j) => runZeroed(t, x.subarray(j * rowLength, (j + 1) * rowLength), 1, kernel));
        for (const batch of batches) {
          const name = `Q6_K ${rows}x${rowLength} n=${batch} (${kname})`;
          const run = runOnGpu(t, x.subarray(0, batch * rowLength), batch, kernel);
          expect(run.kernel).toBe(kname);
          expectColumns(name, t, x, ref, alone, batch, kernel, batch === 3 || batch === 5 || rowLength === 768);
        }
      }
    });

    it(`${kname}: slices of wildly different scale, a NaN column; other types, more columns and rows it cannot hold are refused`, () => {
      const rowLength = 14336;
      const rows = 200;
      const t = generatedTensor(14, rowLength, rows, 5400);
      for (const scale of [1e-30, 1e25]) {
        const x = activations(rowLength, 3, 54);
        // every other 1024 weights 1e5 larger, and each column at its own scale
        for (let k = 0; k < 3 * rowLength; k++) x[k]! *= scale * (((k % rowLength) >> 10) & 1 ? 1e5 : 1) * (1 + Math.floor(k / rowLength) * 1e3);
        const y = runOnGpu(t, x, 3, kernel).y;
        const ref = referenceOutput(t, x, 3);
        for (let j = 0; j < 3; ++j) {
          const e = nmse(y.subarray(j * rows, (j + 1) * rows), ref.subarray(j * rows, (j + 1) * rows));
          expect(e, `Q6_K 200x14336, x scale ${scale}, column ${j}`).toBeLessThanOrEqual(NMSE_BAR);
        }
      }
      const x = activations(rowLength, 3, 55);
      x[rowLength + 5000] = NaN; // column 1
      const y = runZeroed(t, x, 3, kernel);
      expect(y.subarray(rows, 2 * rows).every(Number.isNaN), 'column 1 all NaN').toBe(true);
      const ref = referenceOutput(t, Float32Array.from(x, (v) => (Number.isNaN(v) ? 0 : v)), 3);
      for (const j of [0, 2]) {
        expect(nmse(y.subarray(j * rows, (j + 1) * rows), ref.subarray(j * rows, (j + 1) * rows)), `column ${j}`).toBeLessThanOrEqual(NMSE_BAR);
      }
      expect(() => runOnGpu(generatedTensor(2, 256, 32, 5), activations(256, 2, 1), 2, kernel)).toThrow(new RegExp(`${kname} takes Q6_K only`));
      const over = maxCols + 1;
      expect(() => runOnGpu(generatedTensor(14, 256, 32, 5), activations(256, over, 1), over, kernel)).toThrow(new RegExp(`${kname} takes 1 to ${maxCols} columns`));
      expect(() => runOnGpu(generatedTensor(14, 16384, 16, 5), activations(16384, 2, 1), 2, kernel)).toThrow(new RegExp(`${kname} cannot hold a row of 16384`));
    });
  }

  // Kernel 19, mma_gemv_n16: 1 to 16 columns of Q4_0, Q8_0, Q4_K and Q6_K in mma_gemv_n8's form with two B
  // tiles and the scales folded into A (f16(d q), as in the prefill GEMMs); the row in four parts, a pair
  // of warps on each (a half each, added in shared memory), and the 4 parts' sums of a row group added in a
  // fixed order by the last of them.
  const GEMV_N16 = 19;
  const N16_TYPES = [2, 8, 12, 14] as const; // Q4_0, Q8_0, Q4_K, Q6_K
  for (const id of N16_TYPES) {
    const tname = ggmlTypeById(id)!.name;
    it(`mma_gemv_n16 (${tname}): 1 to 16 columns, awkward shapes, x at any 4-byte alignment; each column the same bits as alone`, () => {
      // a long row; rows not a multiple of 16; rows of fewer units than parts (empty parts and halves);
      // more row groups than the grid holds at once
      for (const [rowLength, rows] of [[14336, 40], [768, 19], [256, 5], [2048, 2001]] as const) {
        const t = generatedTensor(id, rowLength, rows, 5500 + rows + id);
        const x = activations(rowLength, 16, 56);
        x[3 * rowLength + 5] = 1e30; // column 3: one value far above the rest
        x[2 * rowLength + rowLength - 1] = 1e-30; // column 2: a tiny value at its end
        const ref = referenceOutput(t, x, 16);
        const alone = Array.from({ length: 16 }, (_, j) => runZeroed(t, x.subarray(j * rowLength, (j + 1) * rowLength), 1, GEMV_N16));
        // W rounded to f16 (as by the prefill GEMMs): over 5 or 19 outputs one badly conditioned dot product
        // carries a column's NMSE (Q4_K 5x256, column 8: one row's sum is 1/3270 of its sum of |w x|, and
        // W's rounding alone gives 6.6e-4), which is why the dispatch table keeps problems this small on the
        // exact-W kernels; these shapes check the parts and halves that are empty, from 40 rows on the bar
        const bar = rows >= 40 ? NMSE_BAR : 1e-2;
        for (const batch of [1, 9, 13, 16]) {
          const name = `${tname} ${rows}x${rowLength} n=${batch} (mma_gemv_n16)`;
          const run = runOnGpu(t, x.subarray(0, batch * rowLength), batch, GEMV_N16);
          expect(run.kernel).toBe('mma_gemv_n16');
          expectColumns(name, t, x, ref, alone, batch, GEMV_N16, batch === 13 || rowLength === 768, bar);
        }
      }
    });
  }

  it('mma_gemv_n16: slices of wildly different scale, a NaN column; more columns and rows it cannot hold are refused', () => {
    const rowLength = 14336;
    const rows = 200;
    for (const id of N16_TYPES) {
      const tname = ggmlTypeById(id)!.name;
      const t = generatedTensor(id, rowLength, rows, 5600 + id);
      for (const scale of [1e-30, 1e25]) {
        const x = activations(rowLength, 11, 57);
        // every other 1024 weights 1e5 larger, and the columns at three scales
        for (let k = 0; k < 11 * rowLength; k++) x[k]! *= scale * (((k % rowLength) >> 10) & 1 ? 1e5 : 1) * (1 + (Math.floor(k / rowLength) % 3) * 1e3);
        const y = runOnGpu(t, x, 11, GEMV_N16).y;
        const ref = referenceOutput(t, x, 11);
        for (let j = 0; j < 11; ++j) {
          const e = nmse(y.subarray(j * rows, (j + 1) * rows), ref.subarray(j * rows, (j + 1) * rows));
          expect(e, `${tname} 200x14336, x scale ${scale}, column ${j}`).toBeLessThanOrEqual(NMSE_BAR);
        }
      }
      const x = activations(rowLength, 11, 58);
      x[rowLength + 5000] = NaN; // column 1
      const y = runZeroed(t, x, 11, GEMV_N16);
      expect(y.subarray(rows, 2 * rows).every(Number.isNaN), `${tname}: column 1 all NaN`).toBe(true);
      const ref = referenceOutput(t, Float32Array.from(x, (v) => (Number.isNaN(v) ? 0 : v)), 11);
      for (const j of [0, 2, 10]) {
        expect(nmse(y.subarray(j * rows, (j + 1) * rows), ref.subarray(j * rows, (j + 1) * rows)), `${tname}: column ${j}`).toBeLessThanOrEqual(NMSE_BAR);
      }
      expect(() => runOnGpu(generatedTensor(id, 256, 32, 5), activations(256, 17, 1), 17, GEMV_N16)).toThrow(/mma_gemv_n16 takes 1 to 16 columns/);
      const tooLong = id === 14 ? 16384 : 20480;
      expect(() => runOnGpu(generatedTensor(id, tooLong, 16, 5), activations(tooLong, 9, 1), 9, GEMV_N16)).toThrow(new RegExp(`mma_gemv_n16 cannot hold a row of ${tooLong}`));
    }
  });

  it('names a kernel for every type and batch range', () => {
    for (const id of SUPPORTED_TYPE_IDS) {
      for (const batch of [1, 8, 16, 512]) expect(gpu!.matmulKernelName(id, 4096, 14336, batch).length).toBeGreaterThan(0);
    }
    // the wgmma GEMM's tile width follows the shape: 256 columns where its tiles still fill the SMs
    // (the choice depends on the SM count: these names are an H100 SXM's, 132 SMs)
    if (wgmma && gpu!.info.smCount === 132) {
      expect(gpu!.matmulKernelName(2, 4096, 14336, 512)).toBe('wgmma_gemm_128x256');
      expect(gpu!.matmulKernelName(2, 4096, 14336, 256)).toBe('wgmma_gemm_128x128');
      expect(gpu!.matmulKernelName(2, 301, 4096, 600)).toBe('wgmma_gemm_128x128');
      // Q4_K and Q6_K too: the warp-specialized GEMM is slower since v70 (NOTES v75), reached by index only
      expect(gpu!.matmulKernelName(14, 4096, 14336, 512)).toBe('wgmma_gemm_128x256');
      expect(gpu!.matmulKernelName(12, 4096, 14336, 256)).toBe('wgmma_gemm_128x128');
      expect(gpu!.matmulKernelName(8, 4096, 14336, 512)).toBe('wgmma_gemm_128x256');
    }
  });
});
