import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GgufFile } from '../../src/gguf/file.js';
import { ggmlTypeById, tensorByteSize } from '../../src/gguf/ggml-types.js';
import { writeGguf } from '../../src/gguf/writer.js';
import { createGpuDequantBackend } from '../../src/gpu/dequant-backend.js';
import { uploadTensor } from '../../src/gpu/loader.js';
import { decoderFor, f32ArrayToF16, SUPPORTED_TYPE_IDS } from '../../src/quant/index.js';
import { randomBlocks } from '../../src/quant/random.js';
import { QUANTS, REFS, tempDir } from '../cli/helpers.js';
import { openGpuOrReason } from './gpu-helpers.js';

const { gpu, reason } = openGpuOrReason();

function firstMismatch(a: Uint8Array, b: Uint8Array, width: number): string {
  if (a.length !== b.length) return `lengths differ: ${a.length} vs ${b.length}`;
  let count = 0;
  let first = -1;
  for (let i = 0; i < a.length; i += width) {
    for (let k = 0; k < width; k++) {
      if (a[i + k] !== b[i + k]) {
        if (first < 0) first = i / width;
        count++;
        break;
      }
    }
  }
  return count === 0 ? 'ok' : `${count} elements differ, first at ${first}`;
}

/** Dequantizes raw blocks on the GPU (raw upload, kernel, download) and returns the bytes. */
function gpuDequant(typeId: number, raw: Uint8Array, rows: number, rowLength: number, dtype: 'f32' | 'f16'): Uint8Array {
  const g = gpu!;
  const src = g.alloc(raw.length);
  const out = g.alloc(rows * rowLength * (dtype === 'f32' ? 4 : 2));
  try {
    g.upload(src, raw);
    g.memsetPoison(out);
    g.dequantize(typeId, src, out, rows, rowLength, dtype);
    const host = new Uint8Array(out.bytes);
    g.download(out, host);
    return host;
  } finally {
    src.dispose();
    out.dispose();
  }
}

function cpuDequant(typeId: number, raw: Uint8Array, elements: number, dtype: 'f32' | 'f16'): Uint8Array {
  const { info, decode } = decoderFor(typeId)!;
  const f = new Float32Array(elements);
  decode(raw, f, elements / info.blockSize);
  return dtype === 'f32' ? new Uint8Array(f.buffer) : new Uint8Array(f32ArrayToF16(f).buffer);
}

describe.skipIf(!gpu)(`GPU dequantization${reason ? ` (${reason})` : ''}`, () => {
  afterAll(() => gpu?.synchronize());

  it('was compiled with the same block layouts as the TypeScript table', () => {
    for (const id of SUPPORTED_TYPE_IDS) {
      const info = ggmlTypeById(id)!;
      expect(gpu!.typeLayout(id), info.name).toEqual({ blockSize: info.blockSize, typeSize: info.typeSize });
    }
  });

  it('matches ggml bit for bit on every fixture tensor, f32 and f16', () => {
    const quants = GgufFile.open(QUANTS);
    const refs = GgufFile.open(REFS);
    try {
      for (const t of quants.tensors) {
        const ref = refs.readTensorBytes(refs.tensor(t.name));
        const rowLength = t.shape[0]!;
        const raw = quants.readTensorBytes(t);
        const f32 = gpuDequant(t.typeId, raw, t.elements / rowLength, rowLength, 'f32');
        expect(firstMismatch(f32, ref, 4), `${t.name} f32`).toBe('ok');
        const refF16 = new Uint8Array(f32ArrayToF16(new Float32Array(ref.buffer.slice(ref.byteOffset, ref.byteOffset + ref.length))).buffer);
        const f16 = gpuDequant(t.typeId, raw, t.elements / rowLength, rowLength, 'f16');
        expect(firstMismatch(f16, refF16, 2), `${t.name} f16`).toBe('ok');
      }
    } finally {
      quants.close();
      refs.close();
    }
  });

  it('matches the CPU reference on random blocks of every type with awkward row counts', () => {
    let seed = 1;
    for (const id of SUPPORTED_TYPE_IDS) {
      const info = ggmlTypeById(id)!;
      for (const [rows, blocksPerRow] of [[1, 1], [37, 3], [1003, 2], [5, 57]] as const) {
        const rowLength = blocksPerRow * Math.max(info.blockSize, 256);
        const elements = rows * rowLength;
        const raw = randomBlocks(id, elements, seed++);
        for (const dtype of ['f32', 'f16'] as const) {
          const got = gpuDequant(id, raw, rows, rowLength, dtype);
          const want = cpuDequant(id, raw, elements, dtype);
          expect(firstMismatch(got, want, dtype === 'f32' ? 4 : 2), `${info.name} ${rows}x${rowLength} ${dtype}`).toBe('ok');
        }
      }
    }
  });

  it('cuts one long row into chunks of blocks mid-row, bit for bit with the CPU, for every type', async () => {
    const dir = tempDir();
    for (const id of SUPPORTED_TYPE_IDS) {
      const info = ggmlTypeById(id)!;
      const rowLength = info.blockSize * 100; // one row of 100 blocks: chunks of 16 blocks, the last of 4
      const path = join(dir, `row-${info.name}.gguf`);
      writeFileSync(path, writeGguf({ tensors: [{ name: 'row', typeId: id, shape: [rowLength, 1], data: randomBlocks(id, rowLength, 7 + id) }] }));
      const file = GgufFile.open(path);
      const backend = createGpuDequantBackend({ gpu: gpu!, outputChunkBytes: 1 });
      try {
        for (const dtype of ['f32', 'f16'] as const) {
          const chunks: Uint8Array[] = [];
          // copies: the backend reuses its host buffer for every chunk (Buffer.slice would share it)
          await backend.dequantizeTensor(file, file.tensor('row'), dtype, (c) => chunks.push(new Uint8Array(c)), () => {});
          expect(chunks.length, `${info.name} ${dtype}`).toBe(7);
          const want = cpuDequant(id, file.readTensorBytes(file.tensor('row')), rowLength, dtype);
          expect(firstMismatch(Buffer.concat(chunks), want, dtype === 'f32' ? 4 : 2), `${info.name} ${dtype}`).toBe('ok');
        }
      } finally {
        backend.dispose();
        file.close();
      }
    }
  });

  it('streams a tensor over 1 GiB from the file through the dequant backend', async () => {
    const typeId = 2; // Q4_0
    const rowLength = 16384;
    const rows = 120_000; // 1.1 GB of Q4_0 (0.5625 bytes per weight)
    const nbytes = tensorByteSize(typeId, [rowLength, rows]);
    expect(nbytes).toBeGreaterThan(2 ** 30);
    const path = join(tempDir(), 'big.gguf');
    // Header with a placeholder tensor, then the real data written in chunks.
    const header = writeGguf({ tensors: [{ name: 'big', typeId, shape: [rowLength, rows] }] });
    const fd = openSync(path, 'w');
    const chunkRows = 4096;
    const rowBytes = nbytes / rows;
    try {
      writeSync(fd, header);
      for (let r = 0; r < rows; r += chunkRows) {
        const n = Math.min(chunkRows, rows - r);
        writeSync(fd, randomBlocks(typeId, n * rowLength, 1000 + r), 0, n * rowBytes, header.length + r * rowBytes);
      }
    } finally {
      closeSync(fd);
    }
    const file = GgufFile.open(path);
    const backend = createGpuDequantBackend();
    try {
      const t = file.tensor('big');
      let row = 0;
      let mismatches = 0;
      let progressed = 0;
      await backend.dequantizeTensor(file, t, 'f16', (chunk) => {
        const n = chunk.length / (rowLength * 2);
        const want = cpuDequant(typeId, file.readTensorBytes(t, row * rowBytes, n * rowBytes), n * rowLength, 'f16');
        if (Buffer.compare(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length), Buffer.from(want.buffer)) !== 0) mismatches++;
        row += n;
      }, (b) => (progressed += b));
      expect(row).toBe(rows);
      expect(progressed).toBe(nbytes);
      expect(mismatches).toBe(0);
    } finally {
      backend.dispose();
      file.close();
    }
  });

  it('uploads raw blocks byte for byte (weights stay quantized on the GPU)', () => {
    const quants = GgufFile.open(QUANTS);
    try {
      const t = quants.tensor('blk.1.q4_K.wide');
      const dev = uploadTensor(gpu!, quants, t);
      try {
        expect(dev.buffer.bytes).toBe(t.nbytes);
        const back = new Uint8Array(t.nbytes!);
        gpu!.download(dev.buffer, back);
        expect(Buffer.compare(Buffer.from(back), quants.readTensorBytes(t))).toBe(0);
      } finally {
        dev.buffer.dispose();
      }
    } finally {
      quants.close();
    }
  });
});
