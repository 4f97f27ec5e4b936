import { execFileSync } from 'node:child_process';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError, LimitError } from '../../src/errors.js';
import { BufferByteSource } from '../../src/gguf/byte-source.js';
import { GgufFile } from '../../src/gguf/file.js';
import { GGML_TYPES, ggmlTypeByName, tensorByteSize } from '../../src/gguf/ggml-types.js';
import { parseGguf } from '../../src/gguf/parse.js';
import { GgufValueType } from '../../src/gguf/types.js';
import { writeGguf, type WriterOptions } from '../../src/gguf/writer.js';
import { FIXTURES, tempDir } from '../cli/helpers.js';


function parse(bytes: Uint8Array) {
  return parseGguf(new BufferByteSource(bytes), { file: 'mem.gguf' });
}

function sample(extra: Partial<WriterOptions> = {}): WriterOptions {
  const q4 = ggmlTypeByName('Q4_0')!;
  return {
    metadata: [
      { key: 'general.architecture', type: GgufValueType.STRING, value: 'llama' },
      { key: 'u8', type: GgufValueType.UINT8, value: 200 },
      { key: 'i8', type: GgufValueType.INT8, value: -5 },
      { key: 'u16', type: GgufValueType.UINT16, value: 65000 },
      { key: 'i16', type: GgufValueType.INT16, value: -30000 },
      { key: 'u32', type: GgufValueType.UINT32, value: 4_000_000_000 },
      { key: 'i32', type: GgufValueType.INT32, value: -2_000_000_000 },
      { key: 'f32', type: GgufValueType.FLOAT32, value: 1.5 },
      { key: 'f64', type: GgufValueType.FLOAT64, value: Math.PI },
      { key: 'bool', type: GgufValueType.BOOL, value: true },
      { key: 'u64', type: GgufValueType.UINT64, value: 2n ** 60n },
      { key: 'i64', type: GgufValueType.INT64, value: -(2n ** 62n) },
      { key: 'strings', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.STRING, values: ['a', 'ünï', ''] } },
      { key: 'floats', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.FLOAT32, values: new Float32Array([1, -2, 0.25]) } },
      {
        key: 'nested',
        type: GgufValueType.ARRAY,
        value: {
          elementType: GgufValueType.ARRAY,
          values: [
            { elementType: GgufValueType.INT32, values: new Int32Array([1, 2]) },
            { elementType: GgufValueType.STRING, values: ['x'] },
          ],
        },
      },
    ],
    tensors: [
      { name: 'w', typeId: q4.id, shape: [64, 3], data: new Uint8Array(tensorByteSize(q4.id, [64, 3])).fill(7) },
      { name: 'b', typeId: 0, shape: [5], data: new Uint8Array(20).fill(1) },
    ],
    ...extra,
  };
}

describe('ggml type table', () => {
  it('has integer sizes for every type, matching known block sizes', () => {
    const expected: Record<string, [number, number]> = {
      Q4_0: [32, 18], Q4_1: [32, 20], Q5_0: [32, 22], Q5_1: [32, 24], Q8_0: [32, 34], Q8_1: [32, 36],
      Q2_K: [256, 84], Q3_K: [256, 110], Q4_K: [256, 144], Q5_K: [256, 176], Q6_K: [256, 210], Q8_K: [256, 292],
      IQ2_XXS: [256, 66], IQ2_XS: [256, 74], IQ3_XXS: [256, 98], IQ1_S: [256, 50], IQ4_NL: [32, 18], IQ3_S: [256, 110],
      IQ2_S: [256, 82], IQ4_XS: [256, 136], IQ1_M: [256, 56], BF16: [1, 2], TQ1_0: [256, 54], TQ2_0: [256, 66], MXFP4: [32, 17],
    };
    for (const [name, [blockSize, typeSize]] of Object.entries(expected)) {
      expect(ggmlTypeByName(name), name).toMatchObject({ blockSize, typeSize });
    }
    for (const t of GGML_TYPES) expect(Number.isInteger(t.typeSize) && Number.isInteger(t.blockSize)).toBe(true);
    expect(new Set(GGML_TYPES.map((t) => t.id)).size).toBe(GGML_TYPES.length);
  });
});

describe('parseGguf', () => {
  it('reads every metadata type, tensors and offsets (v3 and v2, little- and big-endian)', () => {
    for (const version of [2, 3]) {
      for (const littleEndian of [true, false]) {
        const h = parse(writeGguf(sample({ version, littleEndian })));
        expect(h.version).toBe(version);
        expect(h.littleEndian).toBe(littleEndian);
        const md = Object.fromEntries(h.metadata.map((e) => [e.key, e.value]));
        expect(md).toMatchObject({ 'general.architecture': 'llama', u8: 200, i8: -5, u16: 65000, i16: -30000, u32: 4_000_000_000, i32: -2_000_000_000, f32: 1.5, f64: Math.PI, bool: true, u64: 2n ** 60n, i64: -(2n ** 62n) });
        expect((md.strings as { values: string[] }).values).toEqual(['a', 'ünï', '']);
        expect([...(md.floats as { values: Float32Array }).values]).toEqual([1, -2, 0.25]);
        const nested = md.nested as { values: { values: ArrayLike<unknown> }[] };
        expect([...(nested.values[0]!.values as Int32Array)]).toEqual([1, 2]);
        expect(nested.values[1]!.values).toEqual(['x']);
        expect(h.alignment).toBe(32);
        expect(h.dataOffset % 32).toBe(0);
        expect(h.tensors.map((t) => [t.name, t.type?.name, t.shape, t.nbytes])).toEqual([
          ['w', 'Q4_0', [64, 3], 108],
          ['b', 'F32', [5], 20],
        ]);
        expect(h.tensors[0]!.offset).toBe(h.dataOffset);
        expect(h.tensors[1]!.offset).toBe(h.dataOffset + 128);
      }
    }
  });

  it('honours general.alignment and rejects a bad one', () => {
    const h = parse(writeGguf(sample({ alignment: 64 })));
    expect(h.alignment).toBe(64);
    expect(h.dataOffset % 64).toBe(0);
    expect(h.tensors[1]!.relativeOffset).toBe(128);
    const bad = sample();
    bad.metadata!.push({ key: 'general.alignment', type: GgufValueType.UINT32, value: 48 });
    expect(() => parse(writeGguf(bad))).toThrow(/alignment/);
  });

  it('rejects bad magic, version 1 and unknown versions', () => {
    const good = writeGguf(sample());
    const badMagic = good.slice();
    badMagic[0] = 0x47 + 1;
    expect(() => parse(badMagic)).toThrow(/bad magic/);
    expect(() => parse(writeGguf(sample({ version: 1 })))).toThrow(/version 1 is not supported/);
    expect(() => parse(writeGguf(sample({ version: 7 })))).toThrow(/unsupported GGUF version 7/);
  });

  it('turns a truncation at every byte of the header into an InputError', () => {
    const good = writeGguf(sample());
    const h = parse(good);
    for (let cut = 0; cut < h.dataOffset + 128; cut++) {
      let caught: unknown;
      try {
        parse(good.subarray(0, cut));
      } catch (error) {
        caught = error;
      }
      expect(caught, `cut at ${cut}`).toBeInstanceOf(InputError);
    }
  });

  it('refuses absurd counts and lengths before allocating', () => {
    const bytes = writeGguf(sample());
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const tensorsHuge = bytes.slice();
    new DataView(tensorsHuge.buffer).setBigUint64(8, 2n ** 40n, true);
    expect(() => parse(tensorsHuge)).toThrow(LimitError);
    const kvTooMany = bytes.slice();
    new DataView(kvTooMany.buffer).setBigUint64(16, 500_000n, true);
    expect(() => parse(kvTooMany)).toThrow(/more than the .* remaining bytes/);
    // The first key's length field sits right after the counts.
    expect(view.getBigUint64(24, true)).toBe(BigInt('general.architecture'.length));
    const longKey = bytes.slice();
    new DataView(longKey.buffer).setBigUint64(24, 2n ** 62n, true);
    expect(() => parse(longKey)).toThrow(/over the limit/);
    // names stay under the 16384 characters past which V8 hashes strings by length alone (the duplicate
    // check would turn quadratic): ggml's are under 64
    const longName = writeGguf({ tensors: [{ name: 'n'.repeat(8193), typeId: 0, shape: [1], data: new Uint8Array(4) }] });
    expect(() => parse(longName)).toThrow(/name of tensor #0 length is 8193, over the limit of 8192/);
  });

  it('refuses a huge array count and deep nesting', () => {
    const huge = writeGguf({ metadata: [{ key: 'a', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.UINT32, values: new Uint32Array([1]) } }] });
    // Key "a": count at 24, 1 byte, type u32 at 33, elem type at 37, count at 41.
    new DataView(huge.buffer, huge.byteOffset).setBigUint64(41, 1_000_000n, true);
    expect(() => parse(huge)).toThrow(/need at least 4000000 bytes/);
    let value: any = { elementType: GgufValueType.INT8, values: new Int8Array([1]) };
    for (let i = 0; i < 20; i++) value = { elementType: GgufValueType.ARRAY, values: [value] };
    expect(() => parse(writeGguf({ metadata: [{ key: 'deep', type: GgufValueType.ARRAY, value }] }))).toThrow(/^mem\.gguf: .*nested deeper/);
  });

  it('bounds what the parsed header may cost in memory, even where a sparse file makes bytes free', () => {
    // Key "a": an array of 2^24 arrays, each {UINT8, count 0}: 12 zero bytes apiece, a 200 MB file of
    // holes that would become ~7 GB of JS objects
    const head = writeGguf({ metadata: [{ key: 'a', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.ARRAY, values: [] } }] });
    new DataView(head.buffer, head.byteOffset).setBigUint64(41, 2n ** 24n, true);
    const path = join(tempDir(), 'sparse.gguf');
    writeFileSync(path, head);
    truncateSync(path, head.length + 12 * 2 ** 24);
    const started = performance.now();
    expect(() => GgufFile.open(path)).toThrow(/sparse\.gguf: metadata "a": 16777216 elements of ARRAY would take the parsed header over 1024 MiB/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses what only a broken or hostile file holds: overlapping data, names that are not UTF-8', () => {
    const two = writeGguf({ tensors: [{ name: 't0', typeId: 0, shape: [8], data: new Uint8Array(32) }, { name: 't1', typeId: 0, shape: [8], data: new Uint8Array(32) }] });
    expect(parse(two).tensors.map((t) => t.relativeOffset)).toEqual([0, 32]);
    // t0's info is 8 + 2 + 4 + 8 + 4 + 8 = 34 bytes from 24, so t1's starts at 58, its offset at 58 + 26
    const overlap = two.slice();
    new DataView(overlap.buffer).setBigUint64(58 + 26, 0n, true);
    expect(() => parse(overlap)).toThrow(/tensor t1: data \[\d+, \d+\) overlaps tensor t0's/);
    const badName = two.slice();
    badName.set([0xff, 0xfe], 32); // t0's name bytes
    expect(() => parse(badName)).toThrow(/name of tensor #0 is not valid UTF-8/);
    // scalars (no dimensions) are valid, and smaller than the smallest tensor info with one
    const scalars = writeGguf({ tensors: [0, 1, 2].map((i) => ({ name: `s${i}`, typeId: 0, shape: [], data: new Uint8Array(4) })) });
    expect(parse(scalars).tensors.map((t) => t.elements)).toEqual([1, 1, 1]);
  });

  it('refuses bad tensor infos: dims, block multiples, offsets past the end, duplicates', () => {
    const q4k = ggmlTypeByName('Q4_K')!.id;
    const mk = (shape: number[], typeId = q4k, n = 144) => writeGguf({ tensors: [{ name: 't', typeId, shape, data: new Uint8Array(n) }] });
    expect(() => parse(mk([100, 1]))).toThrow(/not a multiple of the Q4_K block size 256/);
    expect(() => parse(mk([256, 1, 1, 1, 1]))).toThrow(/5 dimensions/);
    expect(() => parse(mk([256, 2 ** 40, 2 ** 20]))).toThrow(LimitError);
    expect(() => parse(mk([256, 1024]))).toThrow(/larger than the whole file|past the end/);
    const dup = writeGguf({ tensors: [{ name: 't', typeId: 0, shape: [1], data: new Uint8Array(4) }, { name: 't', typeId: 0, shape: [1], data: new Uint8Array(4) }] });
    expect(() => parse(dup)).toThrow(/duplicate tensor name/);
    const pastEnd = mk([256, 1]);
    // Shrink the file so the tensor data runs past the end.
    expect(() => parse(pastEnd.subarray(0, pastEnd.length - 40))).toThrow(/past the end of the file/);
  });

  it('names a tensor with an empty name by its index in errors about its entry', () => {
    const bytes = writeGguf({ tensors: [{ name: '', typeId: 0, shape: [4], data: new Uint8Array(16) }] });
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(32, 778792034, true); // n_dims, after the empty name at 24
    expect(() => parse(bytes)).toThrow(/tensor #0 \(empty name\): 778792034 dimensions, over the limit of 4/);
  });

  it('lists tensors of unknown type ids without sizes', () => {
    const h = parse(writeGguf({ tensors: [{ name: 'odd', typeId: 0, shape: [4], data: new Uint8Array(16) }] }).map((b, i, a) => b));
    expect(h.tensors[0]!.type?.name).toBe('F32');
    const bytes = writeGguf({ tensors: [{ name: 'odd', typeId: 0, shape: [4], data: new Uint8Array(16) }] });
    // Tensor info: name (8+3) at 24, n_dims at 35, dim at 39, type at 47.
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(47, 99, true);
    const odd = parse(bytes).tensors[0]!;
    expect(odd.type).toBeUndefined();
    expect(odd.nbytes).toBeUndefined();
  });
});

describe('GgufFile on the ggml fixtures', () => {
  it('reads ggml-quants.gguf', () => {
    const f = GgufFile.open(`${FIXTURES}/ggml-quants.gguf`);
    try {
      expect(f.header.version).toBe(3);
      expect(f.tensors).toHaveLength(25);
      expect(f.metadataValue('general.architecture')).toBe('llama');
      const t = f.tensor('blk.3.q8_0.3d');
      expect(t.shape).toEqual([64, 3, 2]);
      expect(t.nbytes).toBe(6 * 2 * 34);
      expect(f.readTensorBytes(t)).toHaveLength(408);
    } finally {
      f.close();
    }
  });

  it('says the header-only Llama file is truncated', () => {
    expect(() => GgufFile.open(`${FIXTURES}/llama3-8b-shape.header.gguf`)).toThrow(/token_embd.weight.*larger than the whole file/);
  });

  it('reports missing files as InputError', () => {
    expect(() => GgufFile.open('/nonexistent/x.gguf')).toThrow(InputError);
  });

  it('refuses a named pipe at once instead of waiting for a writer, and a directory', () => {
    const fifo = join(tempDir(), 'pipe.gguf');
    execFileSync('mkfifo', [fifo]);
    expect(() => GgufFile.open(fifo)).toThrow(/pipe\.gguf: cannot open: not a regular file/);
    expect(() => GgufFile.open(tempDir())).toThrow(/cannot open: a directory/);
  });
});

describe('keepTruncated: a tensor past the end is its own problem, whatever its numbers', () => {
  /** A file of tensor ok (F32 [8], whole) and the named F32 [8] tensors, whose offsets are then set. */
  function withOffsets(offsets: Record<string, bigint>): Uint8Array {
    const names = Object.keys(offsets);
    const bytes = writeGguf({ tensors: [{ name: 'ok', typeId: 0, shape: [8], data: new Uint8Array(32) }, ...names.map((name) => ({ name, typeId: 0, shape: [8] }))] });
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const name of names) {
      const at = Buffer.from(bytes).indexOf(Buffer.from(name)) + name.length + 4 + 8 + 4; // name, n_dims, ne0, type
      view.setBigUint64(at, offsets[name]!, true);
    }
    return bytes; // tensors without data are declared, not written: the file ends after ok's
  }

  it('offsets beyond 2^53 and 2^64 - 32, and tensors past the end that overlap, leave the whole tensor readable', () => {
    const bytes = withOffsets({ o54: 2n ** 54n, o64: 2n ** 64n - 32n, a: 1024n, b: 1024n });
    const h = parseGguf(new BufferByteSource(bytes), { file: 'mem.gguf', keepTruncated: true });
    expect(h.problems!.map((p) => p.tensor)).toEqual(['o54', 'o64', 'a', 'b']);
    expect(h.problems![0]!.reason).toMatch(/data offset 18014398509481984 \(from the data section\) lies past the end/);
    const o64 = h.tensors.find((t) => t.name === 'o64')!;
    expect(o64.exact).toEqual({ offset: BigInt(h.dataOffset) + 2n ** 64n - 32n, nbytes: 32n }); // exact, for inspect
    expect(h.tensors.find((t) => t.name === 'a')!.exact).toBeUndefined();
    const ok = h.tensors.find((t) => t.name === 'ok')!;
    expect(ok.offset + ok.nbytes!).toBeLessThanOrEqual(bytes.length);
    expect(() => parse(bytes)).toThrow(/tensor o54: data offset 18014398509481984/);
  });
});

