import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GgufFile } from '../src/gguf/file.js';
import { writeGguf } from '../src/gguf/writer.js';
import { randomBlocks } from '../src/quant/random.js';
import { fileTensor, generatedTensor, type TensorSource } from '../src/tensor-source.js';
import { tempDir } from './cli/helpers.js';

// Q8_0 (type 8): blocks of 32 weights in 34 bytes (an f16 scale and 32 int8); Q4_0 (type 2): 32 in 18.
const Q8_0 = 8;
const Q4_0 = 2;

/** What a TensorSource says of itself (its read and file aside). */
function described(t: TensorSource) {
  return { name: t.name, typeId: t.typeId, typeName: t.typeName, shape: t.shape, rowLength: t.rowLength, rows: t.rows, nbytes: t.nbytes };
}

describe('generatedTensor', () => {
  it('describes a [rowLength, rows] tensor of the type, named after both unless named', () => {
    const t = generatedTensor(Q8_0, 64, 3, 1);
    expect(described(t)).toEqual({
      name: 'q8_0[64,3]',
      typeId: Q8_0,
      typeName: 'Q8_0',
      shape: [64, 3],
      rowLength: 64,
      rows: 3,
      nbytes: 3 * 2 * 34,
    });
    expect(t.file).toBeUndefined();
    expect(t.missing).toBeUndefined();
    expect(generatedTensor(Q4_0, 32, 5, 1, 'blk.0.w').name).toBe('blk.0.w');
    expect(generatedTensor(Q4_0, 96, 2, 1).nbytes).toBe(2 * 3 * 18);
  });

  it('reads the byte range asked for, the same bytes for the same seed', () => {
    const t = generatedTensor(Q8_0, 64, 3, 7);
    const whole = t.read(0, t.nbytes);
    expect(whole.length).toBe(204);
    expect([...whole]).toEqual([...randomBlocks(Q8_0, 64 * 3, 7)]);
    expect([...t.read(10, 20)]).toEqual([...whole.subarray(10, 30)]);
    expect(t.read(200, 4).length).toBe(4);
    expect([...generatedTensor(Q8_0, 64, 3, 7).read(0, 204)]).toEqual([...whole]);
    expect([...generatedTensor(Q8_0, 64, 3, 8).read(0, 204)]).not.toEqual([...whole]);
  });

  it('refuses a type that does not exist', () => {
    expect(() => generatedTensor(9999, 32, 1, 1)).toThrow(/^unknown type 9999$/);
  });
});

describe('fileTensor', () => {
  it("describes a file's tensor, reads its bytes and says where they lie in the file", () => {
    const path = join(tempDir(), 'one.gguf');
    const data = randomBlocks(Q4_0, 64 * 3, 5);
    writeFileSync(path, writeGguf({ tensors: [{ name: 'blk.3.w', typeId: Q4_0, shape: [64, 3], data }] }));
    const file = GgufFile.open(path);
    try {
      const t = fileTensor(file, file.tensor('blk.3.w'));
      expect(described(t)).toEqual({
        name: 'blk.3.w',
        typeId: Q4_0,
        typeName: 'Q4_0',
        shape: [64, 3],
        rowLength: 64,
        rows: 3,
        nbytes: 3 * 2 * 18,
      });
      expect(t.missing).toBeUndefined();
      expect([...t.read(0, t.nbytes)]).toEqual([...data]);
      expect([...t.read(18, 36)]).toEqual([...data.subarray(18, 54)]);
      expect(t.file).toEqual({ path, fd: file.source.fd, offset: expect.any(Number) });
      const offset = t.file!.offset;
      expect([...readFileSync(path).subarray(offset, offset + t.nbytes)]).toEqual([...data]);
    } finally {
      file.close();
    }
  });

  it("counts the rows of a 3-d tensor's matrices together", () => {
    const path = join(tempDir(), 'experts.gguf');
    writeFileSync(path, writeGguf({ tensors: [{ name: 'e', typeId: Q8_0, shape: [32, 2, 4], data: randomBlocks(Q8_0, 32 * 8, 1) }] }));
    const file = GgufFile.open(path);
    try {
      const t = fileTensor(file, file.tensor('e'));
      expect([t.rowLength, t.rows, t.nbytes]).toEqual([32, 8, 8 * 34]);
    } finally {
      file.close();
    }
  });
});
