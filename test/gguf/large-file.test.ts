import { closeSync, copyFileSync, chmodSync, openSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GgufFile } from '../../src/gguf/file.js';
import { writeGguf } from '../../src/gguf/writer.js';
import { decoderFor } from '../../src/quant/index.js';
import { randomBlocks } from '../../src/quant/random.js';
import { FIXTURES, tempDir } from '../cli/helpers.js';

const FOUR_GIB = 2 ** 32;

describe('files larger than 4 GiB (sparse, no disk used)', () => {
  it('reads the Llama-3-8B-shaped header extended to its full 4.9 GB', () => {
    const path = join(tempDir(), 'llama3.gguf');
    copyFileSync(join(FIXTURES, 'llama3-8b-shape.header.gguf'), path);
    chmodSync(path, 0o644);
    truncateSync(path, 4_920_057_984);
    const f = GgufFile.open(path);
    try {
      expect(f.tensors).toHaveLength(292);
      const out = f.tensor('output.weight');
      expect(out.offset).toBe(4_489_117_824);
      expect(out.offset).toBeGreaterThan(FOUR_GIB);
      expect(out.type?.name).toBe('Q6_K');
      const last = f.tensors.reduce((a, b) => (a.offset > b.offset ? a : b));
      expect(last.offset + last.nbytes!).toBeLessThanOrEqual(f.size);
      // Read the last row of output.weight: every byte lies beyond 4 GiB, and the weights are zero.
      const rowBytes = (out.shape[0]! / 256) * 210;
      const raw = f.readTensorBytes(out, out.nbytes! - rowBytes, rowBytes);
      const values = new Float32Array(out.shape[0]!);
      decoderFor(out.typeId)!.decode(raw, values, values.length / 256);
      expect(values.every((v) => v === 0)).toBe(true);
      const tokens = f.metadataValue('tokenizer.ggml.tokens') as { values: string[] };
      expect(tokens.values).toHaveLength(128_256);
    } finally {
      f.close();
    }
  });

  it('writes a known non-zero tensor past 4 GiB and reads it back bit for bit', () => {
    const path = join(tempDir(), 'far.gguf');
    const rowLength = 4096;
    const rows = 3;
    const data = randomBlocks(12, rowLength * rows, 42); // Q4_K
    // The first tensor is a 4.25 GiB F16 hole, so the second one starts past 4 GiB.
    const holeElements = (FOUR_GIB + 2 ** 28) / 2;
    const header = writeGguf({
      tensors: [
        { name: 'hole', typeId: 1, shape: [holeElements / 1024, 1024] },
        { name: 'far', typeId: 12, shape: [rowLength, rows] },
      ],
    });
    // Header only (the tensors declare their sizes); the far tensor's bytes are written at its offset.
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, header);
    } finally {
      closeSync(fd);
    }
    truncateSync(path, 2 * FOUR_GIB);
    let f = GgufFile.open(path);
    const far = f.tensor('far');
    f.close();
    expect(far.offset).toBeGreaterThan(FOUR_GIB);
    const fd2 = openSync(path, 'r+');
    try {
      writeSync(fd2, data, 0, data.length, far.offset);
    } finally {
      closeSync(fd2);
    }
    f = GgufFile.open(path);
    try {
      const back = f.readTensorBytes(f.tensor('far'));
      expect(Buffer.compare(back, Buffer.from(data))).toBe(0);
      const part = f.readTensorBytes(f.tensor('far'), 144 * 16 + 7, 1000);
      expect(Buffer.compare(part, Buffer.from(data.subarray(144 * 16 + 7, 144 * 16 + 1007)))).toBe(0);
    } finally {
      f.close();
    }
  });
});
