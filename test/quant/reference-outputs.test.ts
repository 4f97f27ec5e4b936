import { describe, expect, it } from 'vitest';
import { referenceMatmul } from '../../src/quant/index.js';
import { generatedTensor } from '../../src/tensor-source.js';
import type { DeviceBuffer, Gpu } from '../../src/gpu/device.js';
import { activations, cpuRows, gpuDequantCheck, referenceOutput, referenceOutputs } from '../../src/verify.js';

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

// gpuDequantCheck with a stand-in for the GPU that dequantizes with the CPU decoder (optionally
// flipping one output bit): the combined pass must report exactly the planted mismatches and give
// the references of referenceOutputs, from the one CPU decode.
describe('gpuDequantCheck (one CPU decode for the dequant check and the references)', () => {
  function fakeGpu(t: ReturnType<typeof generatedTensor>, flipAt = -1) {
    const bufs = new Map<bigint, Float32Array>();
    let next = 1n;
    const gpu = {
      /** What the check asked of the GPU: buffers and their sizes, and each dequantize call. */
      log: {
        allocs: [] as { bytes: number; what: string }[],
        calls: [] as { rows: number; rowLength: number; dtype: string; srcOffset: number }[],
        live: bufs,
      },
      alloc(bytes: number, what: string) {
        const ptr = next++;
        gpu.log.allocs.push({ bytes, what });
        bufs.set(ptr, new Float32Array(bytes / 4));
        return { ptr, bytes, dispose: () => bufs.delete(ptr) };
      },
      memsetPoison(b: { ptr: bigint }) {
        bufs.get(b.ptr)!.fill(NaN);
      },
      dequantize(_type: number, _raw: unknown, out: { ptr: bigint }, rows: number, rowLength: number, dtype: string, srcOffset: number) {
        gpu.log.calls.push({ rows, rowLength, dtype, srcOffset });
        const row = srcOffset / (t.nbytes / t.rows);
        const got = cpuRows(t, row, rows);
        if (flipAt >= row * rowLength && flipAt < (row + rows) * rowLength) {
          const u = new Uint32Array(got.buffer);
          u[flipAt - row * rowLength]! ^= 1;
        }
        bufs.get(out.ptr)!.set(got);
      },
      download(src: { ptr: bigint }, into: Uint8Array) {
        const f = bufs.get(src.ptr)!;
        into.set(new Uint8Array(f.buffer, 0, into.byteLength));
      },
    };
    return gpu as unknown as Gpu & { log: typeof gpu.log };
  }

  it('finds no mismatch on an exact dequantization and returns the references', () => {
    const t = generatedTensor(2, 256, 23, 9); // Q4_0
    const inputs = [1, 4].map((batch) => ({ batch, x: activations(256, batch, 3 * batch) }));
    const r = gpuDequantCheck(fakeGpu(t), t, {} as DeviceBuffer, inputs);
    expect(r.mismatches).toBe(0);
    expect(r.elements).toBe(256 * 23);
    expect(r.refs).toEqual(referenceOutputs(t, inputs));
  });

  it('reports a planted one-bit difference with its position and ULP distance', () => {
    const t = generatedTensor(14, 256, 5, 2); // Q6_K
    const r = gpuDequantCheck(fakeGpu(t, 700), t, {} as DeviceBuffer);
    expect(r.mismatches).toBe(1);
    expect(r.firstMismatch).toBe(700);
    expect(r.maxUlp).toBe(1);
    expect(r.refs).toEqual([]);
  });

  it('goes chunk by chunk through one output buffer of one chunk, freed at the end, and places a mismatch in a later chunk', () => {
    const t = generatedTensor(2, 2 ** 23, 3, 4); // Q4_0, 2^24 weights a chunk: rows 0-1, then row 2
    const rowBytes = (2 ** 23 / 32) * 18;
    const flipAt = 2 * 2 ** 23 + 5;
    const gpu = fakeGpu(t, flipAt);
    const r = gpuDequantCheck(gpu, t, {} as DeviceBuffer);
    expect(r).toMatchObject({ elements: 3 * 2 ** 23, mismatches: 1, firstMismatch: flipAt, maxUlp: 1 });
    expect(gpu.log.allocs).toEqual([{ bytes: 2 * 2 ** 23 * 4, what: `allocating the dequantized output of ${t.name}` }]);
    expect(gpu.log.calls).toEqual([
      { rows: 2, rowLength: 2 ** 23, dtype: 'f32', srcOffset: 0 },
      { rows: 1, rowLength: 2 ** 23, dtype: 'f32', srcOffset: 2 * rowBytes },
    ]);
    expect(gpu.log.live.size).toBe(0); // the output buffer was disposed
  });
});
