import { execFileSync } from 'node:child_process';
import { existsSync, fstatSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError, LimitError } from '../../src/errors.js';
import { BufferByteSource, FileByteSource } from '../../src/gguf/byte-source.js';
import { GgufFile } from '../../src/gguf/file.js';
import { GGML_TYPES, ggmlTypeByName, ggmlTypeName, tensorByteSize } from '../../src/gguf/ggml-types.js';
import { parseGguf } from '../../src/gguf/parse.js';
import { type GgufValue, GgufValueType } from '../../src/gguf/types.js';
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

  it('names every id as ggml does, and unknown ids by number', () => {
    const names = Object.fromEntries(GGML_TYPES.map((t) => [t.id, t.name]));
    expect(names).toEqual({
      0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K',
      13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S',
      22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0',
      35: 'TQ2_0', 39: 'MXFP4',
    });
    expect(ggmlTypeName(26)).toBe('I32');
    expect(ggmlTypeName(4)).toBe('type#4');
    expect(ggmlTypeByName('i64')?.id).toBe(27);
    expect(tensorByteSize(28, [3, 2])).toBe(48);
    expect(() => tensorByteSize(4, [32])).toThrow('unknown ggml type id 4');
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
    expect(() => parse(writeGguf(bad))).toThrow('mem.gguf: general.alignment must be a nonzero power of two of type UINT32, found UINT32 48');
  });

  it('refuses an alignment of 0, of another integer type or that is an array, saying what it found', () => {
    const withAlignment = (type: GgufValueType, value: GgufValue) =>
      writeGguf({ metadata: [{ key: 'general.alignment', type, value }], tensors: [{ name: 't', typeId: 0, shape: [8], data: new Uint8Array(32) }] });
    const message = (found: string) => `mem.gguf: general.alignment must be a nonzero power of two of type UINT32, found ${found}`;
    expect(() => parse(withAlignment(GgufValueType.UINT32, 0))).toThrow(message('UINT32 0'));
    expect(() => parse(withAlignment(GgufValueType.INT32, 64))).toThrow(message('INT32 64'));
    expect(() => parse(withAlignment(GgufValueType.ARRAY, { elementType: GgufValueType.UINT32, values: new Uint32Array([32]) }))).toThrow(message('ARRAY an array'));
    expect(parse(withAlignment(GgufValueType.UINT32, 32)).alignment).toBe(32);
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

  it('names the field a truncated header ends in, with its offset and the file size', () => {
    // Metadata only (2 entries need 26 bytes, so cuts from 50 on pass the count check):
    // key #0 length at 24, "general.name" at 32, type at 44, value length at 48, "x" at 56;
    // key #1 length at 57, "arr" at 65, type at 68, element type at 72, element count at 76, [5] at 84.
    const md = writeGguf({
      metadata: [
        { key: 'general.name', type: GgufValueType.STRING, value: 'x' },
        { key: 'arr', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.UINT8, values: new Uint8Array([5]) } },
      ],
    });
    // One tensor (24 bytes at least): name length at 24, "blk.0.attn_q.weight" at 32, n_dims at 51,
    // dimensions at 55 and 63, type at 71, offset at 75.
    const ts = writeGguf({ tensors: [{ name: 'blk.0.attn_q.weight', typeId: 0, shape: [4, 1], data: new Uint8Array(16) }] });
    const cases: [Uint8Array, number, string][] = [
      [md, 2, 'not a GGUF file (bad magic)'],
      [md, 4, 'truncated: version needs 4 bytes at offset 4, but the file ends at 4'],
      [md, 10, 'truncated: tensor count needs 8 bytes at offset 8, but the file ends at 10'],
      [md, 20, 'truncated: metadata count needs 8 bytes at offset 16, but the file ends at 20'],
      [md, 50, 'truncated: metadata "general.name" length needs 8 bytes at offset 48, but the file ends at 50'],
      [md, 60, 'truncated: metadata key #1 length needs 8 bytes at offset 57, but the file ends at 60'],
      [md, 66, 'truncated: metadata key #1 needs 3 bytes at offset 65, but the file ends at 66'],
      [md, 70, 'truncated: type of "arr" needs 4 bytes at offset 68, but the file ends at 70'],
      [md, 74, 'truncated: metadata "arr" element type needs 4 bytes at offset 72, but the file ends at 74'],
      [md, 80, 'truncated: metadata "arr" element count needs 8 bytes at offset 76, but the file ends at 80'],
      [ts, 53, 'truncated: dimension count of blk.0.attn_q.weight needs 4 bytes at offset 51, but the file ends at 53'],
      [ts, 57, 'truncated: dimension 0 of blk.0.attn_q.weight needs 8 bytes at offset 55, but the file ends at 57'],
      [ts, 65, 'truncated: dimension 1 of blk.0.attn_q.weight needs 8 bytes at offset 63, but the file ends at 65'],
      [ts, 73, 'truncated: type of blk.0.attn_q.weight needs 4 bytes at offset 71, but the file ends at 73'],
      [ts, 77, 'truncated: offset of blk.0.attn_q.weight needs 8 bytes at offset 75, but the file ends at 77'],
    ];
    for (const [bytes, cut, reason] of cases) expect(() => parse(bytes.subarray(0, cut)), `cut at ${cut}`).toThrow(`mem.gguf: ${reason}`);
    expect(() => parse(new Uint8Array(0))).toThrow('mem.gguf: an empty file (0 bytes), not a GGUF file');
  });

  it('reads a header that ends exactly where the file does (no tensors, no padding)', () => {
    // 24 + key "a" (8 + 1) + type 4 + element type 4 + count 8 + 3 values: 52 bytes, the writer pads to 64
    const arr = writeGguf({ metadata: [{ key: 'a', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.UINT8, values: new Uint8Array([1, 2, 3]) } }] });
    const h = parse(arr.subarray(0, 52));
    expect([...(h.metadata[0]!.value as { values: Uint8Array }).values]).toEqual([1, 2, 3]);
    expect(h.tensors).toEqual([]);
    // one entry of the smallest size (empty key, one byte): exactly the 13 bytes the count check asks for
    const smallest = writeGguf({ metadata: [{ key: '', type: GgufValueType.UINT8, value: 9 }] });
    expect(parse(smallest.subarray(0, 24 + 13)).metadata).toEqual([{ key: '', type: GgufValueType.UINT8, value: 9 }]);
  });

  it('says which version it found: a small number as itself, anything else in both byte orders', () => {
    const withVersion = (bytes: number[]) => {
      const b = writeGguf({});
      b.set(bytes, 4);
      return b;
    };
    expect(() => parse(withVersion([0xff, 0xff, 0, 0]))).toThrow('mem.gguf: unsupported GGUF version 65535 (supported: 2 and 3)');
    expect(() => parse(withVersion([1, 2, 3, 4]))).toThrow('mem.gguf: unsupported GGUF version field (67305985 read little-endian, 16909060 big-endian) (supported: 2 and 3)');
  });

  it('reads bools as 0 and 1 only', () => {
    const bools = writeGguf({ metadata: [{ key: 'yes', type: GgufValueType.BOOL, value: true }, { key: 'no', type: GgufValueType.BOOL, value: false }] });
    expect(parse(bools).metadata.map((e) => e.value)).toEqual([true, false]);
    // key "yes": length at 24, "yes" at 32, type at 35, the bool at 39
    const two = bools.slice();
    two[39] = 2;
    expect(() => parse(two)).toThrow('mem.gguf: metadata "yes": a bool must be 0 or 1, found 2');
  });

  it('refuses value types and array element types it does not know', () => {
    // key "x": length at 24, "x" at 32, type at 33; as an array: element type at 37
    const scalar = writeGguf({ metadata: [{ key: 'x', type: GgufValueType.UINT8, value: 1 }] });
    new DataView(scalar.buffer, scalar.byteOffset).setUint32(33, 13, true);
    expect(() => parse(scalar)).toThrow('mem.gguf: metadata "x": unknown metadata value type 13');
    const empty = writeGguf({ metadata: [{ key: 'x', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.UINT8, values: new Uint8Array(0) } }] });
    new DataView(empty.buffer, empty.byteOffset).setUint32(37, 13, true);
    expect(() => parse(empty)).toThrow('mem.gguf: metadata "x": unknown array element type 13'); // even with no elements
  });

  it('returns arrays of fixed-size values as typed arrays', () => {
    const md = Object.fromEntries(parse(writeGguf({
      metadata: [
        { key: 'f32', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.FLOAT32, values: new Float32Array([1.5]) } },
        { key: 'u64', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.UINT64, values: new BigUint64Array([2n ** 63n]) } },
        { key: 'i8', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.INT8, values: new Int8Array([-1]) } },
      ],
    })).metadata.map((e) => [e.key, (e.value as { values: unknown }).values]));
    expect(md.f32).toBeInstanceOf(Float32Array);
    expect(md.u64).toEqual(new BigUint64Array([2n ** 63n]));
    expect(md.i8).toEqual(new Int8Array([-1]));
  });

  it('refuses duplicate and non-UTF-8 metadata keys, and decodes string values leniently', () => {
    const dup = writeGguf({ metadata: [{ key: 'k', type: GgufValueType.UINT8, value: 1 }, { key: 'k', type: GgufValueType.UINT8, value: 2 }] });
    expect(() => parse(dup)).toThrow('mem.gguf: duplicate metadata key "k"');
    // key "ab": its bytes at 32; its string value "cd": length at 38, bytes at 46
    const text = writeGguf({ metadata: [{ key: 'ab', type: GgufValueType.STRING, value: 'cd' }] });
    const badKey = text.slice();
    badKey[32] = 0xff;
    expect(() => parse(badKey)).toThrow('mem.gguf: metadata key #0 is not valid UTF-8');
    const badValue = text.slice();
    badValue[46] = 0xff;
    expect(parse(badValue).metadata[0]!.value).toBe('\ufffdd');
  });

  it('checks counts against the bytes left before reading them', () => {
    const scalars = writeGguf({ tensors: [{ name: 't', typeId: 0, shape: [], data: new Uint8Array(4) }] });
    const manyTensors = scalars.slice();
    new DataView(manyTensors.buffer).setBigUint64(8, 1000n, true);
    expect(() => parse(manyTensors)).toThrow(`mem.gguf: header claims 1000 tensors and 0 metadata entries, more than the ${scalars.length - 24} remaining bytes can hold`);
    const one = writeGguf({ metadata: [{ key: 'a', type: GgufValueType.UINT8, value: 1 }] }); // 38 bytes, padded to 64
    const manyEntries = one.slice();
    new DataView(manyEntries.buffer).setBigUint64(16, 4n, true);
    expect(() => parse(manyEntries)).toThrow('mem.gguf: header claims 0 tensors and 4 metadata entries, more than the 40 remaining bytes can hold');
    // key "a" as a UINT32 array: element count at 41, 15 bytes left after it
    const arr = writeGguf({ metadata: [{ key: 'a', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.UINT32, values: new Uint32Array([1]) } }] });
    const ten = arr.slice();
    new DataView(ten.buffer).setBigUint64(41, 10n, true);
    expect(() => parse(ten)).toThrow('mem.gguf: metadata "a": 10 elements of UINT32 need at least 40 bytes, but only 15 remain');
    const overLimit = arr.slice();
    new DataView(overLimit.buffer).setBigUint64(41, 2n ** 24n + 1n, true);
    expect(() => parse(overLimit)).toThrow('mem.gguf: metadata "a" element count is 16777217, over the limit of 16777216');
  });

  it('accepts arrays nested as deep as the limit, and no deeper', () => {
    const nested = (depth: number) => {
      let value: any = { elementType: GgufValueType.INT8, values: new Int8Array([1]) };
      for (let i = 1; i < depth; i++) value = { elementType: GgufValueType.ARRAY, values: [value] };
      return writeGguf({ metadata: [{ key: 'deep', type: GgufValueType.ARRAY, value }] });
    };
    expect(parse(nested(8)).metadata).toHaveLength(1);
    expect(() => parse(nested(9))).toThrow('mem.gguf: metadata "deep": arrays nested deeper than 8');
  });

  it('accepts 4 dimensions, and refuses a dimension over the element limit even after a 0', () => {
    const mk = (shape: number[]) => writeGguf({ tensors: [{ name: 't', typeId: 0, shape, data: new Uint8Array(tensorByteSize(0, shape)) }] });
    expect(parse(mk([2, 2, 2, 2])).tensors[0]!.shape).toEqual([2, 2, 2, 2]);
    const zero = writeGguf({ tensors: [{ name: 't', typeId: 0, shape: [0, 2 ** 40] }] });
    // t: name length at 24, "t" at 32, n_dims at 33, dimensions at 37 and 45
    new DataView(zero.buffer).setBigUint64(45, 2n ** 60n, true);
    expect(() => parse(zero)).toThrow(new LimitError('mem.gguf', 'dimensions so far [0, 1152921504606846976] exceed 9007199254740991 elements', 't'));
  });

  it('refuses a data offset that is not a multiple of the alignment', () => {
    const two = writeGguf({ tensors: [{ name: 't0', typeId: 0, shape: [8], data: new Uint8Array(32) }, { name: 't1', typeId: 0, shape: [8], data: new Uint8Array(32) }] });
    new DataView(two.buffer).setBigUint64(58 + 26, 36n, true); // t1's offset (see the overlap test)
    expect(() => parse(two)).toThrow('mem.gguf: tensor t1: data offset 36 is not a multiple of the alignment 32');
  });

  it('checks overlaps in offset order, whatever the order of the tensor infos, and never for empty tensors', () => {
    // three F32 [8] tensors: each info is 34 bytes from 24, its offset 26 bytes into it
    const three = writeGguf({ tensors: ['t0', 't1', 't2'].map((name) => ({ name, typeId: 0, shape: [8], data: new Uint8Array(32) })) });
    const setOffsets = (bytes: Uint8Array, offsets: bigint[]) => {
      const out = bytes.slice();
      offsets.forEach((o, i) => new DataView(out.buffer).setBigUint64(24 + 34 * i + 26, o, true));
      return out;
    };
    const reversed = parse(setOffsets(three, [64n, 32n, 0n]));
    expect(reversed.tensors.map((t) => t.relativeOffset)).toEqual([64, 32, 0]);
    const h = parse(three);
    const [d0, d1] = [h.dataOffset, h.dataOffset + 32];
    expect(() => parse(setOffsets(three, [32n, 64n, 32n]))).toThrow(`mem.gguf: tensor t2: data [${d1}, ${d1 + 32}) overlaps tensor t0's [${d1}, ${d1 + 32})`);
    expect(() => parse(setOffsets(three, [0n, 64n, 16n]))).toThrow(/data offset 16 is not a multiple/);
    expect(() => parse(setOffsets(three, [0n, 64n, 0n]))).toThrow(`mem.gguf: tensor t2: data [${d0}, ${d0 + 32}) overlaps tensor t0's [${d0}, ${d0 + 32})`);
    // an empty tensor holds no data, so it shares none, wherever it points
    const withEmpty = writeGguf({ tensors: [{ name: 'w', typeId: 0, shape: [8], data: new Uint8Array(32) }, { name: 'e', typeId: 0, shape: [0], data: new Uint8Array(0) }] });
    // w's info is 33 bytes from 24; e's offset sits 25 bytes into e's (8 + 1 + 4 + 8 + 4)
    new DataView(withEmpty.buffer).setBigUint64(24 + 33 + 25, 0n, true);
    expect(parse(withEmpty).tensors.map((t) => [t.name, t.relativeOffset, t.nbytes])).toEqual([['w', 0, 32], ['e', 0, 0]]);
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

  it('reads any range inside a tensor and refuses one outside it, naming the tensor', () => {
    const path = join(tempDir(), 'ranges.gguf');
    const data = new Uint8Array(32).map((_, i) => i + 1);
    writeFileSync(path, writeGguf({ tensors: [{ name: 't', typeId: 0, shape: [8], data }, { name: 'e', typeId: 0, shape: [0], data: new Uint8Array(0) }, { name: 'u', typeId: 0, shape: [4], data: new Uint8Array(16) }] }));
    // u's type id becomes 99: listed, but its size cannot be known
    const bytes = readFileSync(path);
    const typeAt = bytes.indexOf(Buffer.from('u')) + 1 + 4 + 8; // after the name, n_dims and its one dimension
    bytes.writeUInt32LE(99, typeAt);
    writeFileSync(path, bytes);
    const f = GgufFile.open(path);
    try {
      const t = f.tensor('t');
      expect([...f.readTensorBytes(t, 8)]).toEqual([...data.subarray(8)]); // to the tensor's end
      expect([...f.readTensorBytes(t, 30, 2)]).toEqual([31, 32]);
      expect(f.readTensorBytes(t, 32, 0)).toHaveLength(0);
      expect(f.readTensorBytes(f.tensor('e'))).toHaveLength(0);
      const outside = (start: number, length: number | undefined, range: string) =>
        expect(() => f.readTensorBytes(t, start, length), range).toThrow(new InputError(path, `read of ${range} is outside the tensor's 32 bytes`, 't'));
      outside(0, 33, '[0, 33)');
      outside(30, 3, '[30, 33)');
      outside(-1, 4, '[-1, 3)');
      outside(4, -1, '[4, 3)');
      outside(33, undefined, '[33, 32)');
      expect(() => f.tensor('nope')).toThrow(`${path}: no tensor named "nope"`);
      expect(() => f.readTensorBytes(f.tensor('u'))).toThrow(`${path}: tensor u: unknown ggml type id 99; its size cannot be known`);
    } finally {
      f.close();
    }
  });

  it('says where the data ended when the file shrinks after it was opened', () => {
    const path = join(tempDir(), 'shrinks.gguf');
    writeFileSync(path, writeGguf({ tensors: [{ name: 't', typeId: 0, shape: [8], data: new Uint8Array(32).fill(1) }] }));
    const f = GgufFile.open(path);
    try {
      const t = f.tensor('t');
      truncateSync(path, t.offset + 20);
      expect(() => f.readTensorBytes(t)).toThrow(`${path}: tensor t: reading tensor data failed: unexpected end of file at byte ${t.offset + 20}`);
    } finally {
      f.close();
    }
  });

  it('keeps the kind and the message of a parse error, naming the file once', () => {
    const path = join(tempDir(), 'dims.gguf');
    writeFileSync(path, writeGguf({ tensors: [{ name: 't', typeId: 0, shape: [1, 1, 1, 1, 1], data: new Uint8Array(4) }] }));
    let caught: unknown;
    try {
      GgufFile.open(path);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(LimitError);
    expect((caught as Error).message).toBe(`${path}: tensor t: 5 dimensions, over the limit of 4`);
  });

  // sysfs files claim 4096 bytes and hold fewer: the reader's own read error, not the parser's
  const shortSysfsFile = '/sys/kernel/mm/transparent_hugepage/enabled';
  it.skipIf(!existsSync(shortSysfsFile))('turns a read that fails below the parser into an InputError naming the file', () => {
    expect(() => GgufFile.open(shortSysfsFile)).toThrow(new RegExp(`^${shortSysfsFile}: cannot read: unexpected end of file at byte \\d+$`));
  });

  it('closes its file, once', () => {
    const f = GgufFile.open(`${FIXTURES}/ggml-quants.gguf`);
    const fd = f.source.fd;
    expect(fstatSync(fd).isFile()).toBe(true);
    f.close();
    expect(() => fstatSync(fd)).toThrow(/EBADF/);
    expect(() => f.close()).not.toThrow();
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

  /** Tensors a, b (F32 [8]) and c (F32 [8] or as given), their data written: `cut` bytes are then cut off the end. */
  function cutFile(cut: number, c: { shape: number[]; typeId?: number } = { shape: [8] }): { bytes: Uint8Array; whole: Uint8Array } {
    const whole = writeGguf({
      tensors: [
        { name: 'a', typeId: 0, shape: [8], data: new Uint8Array(32).fill(1) },
        { name: 'b', typeId: 0, shape: [8], data: new Uint8Array(32).fill(2) },
        { name: 'c', typeId: c.typeId ?? 0, shape: c.shape },
      ],
    });
    return { whole, bytes: whole.subarray(0, whole.length - cut) };
  }

  it('lists the tensor a partly downloaded file cuts off, and reads the others', () => {
    const { bytes } = cutFile(16, { shape: [8] }); // c's data is not written: b's ends the file; cut half of it
    const h = parseGguf(new BufferByteSource(bytes), { file: 'mem.gguf', keepTruncated: true });
    const b = h.tensors.find((t) => t.name === 'b')!;
    const c = h.tensors.find((t) => t.name === 'c')!;
    expect(h.problems).toEqual([
      { tensor: 'b', reason: `data [${b.offset}, ${b.offset + 32}) lies past the end of the file (${bytes.length} bytes); the file is truncated` },
      { tensor: 'c', reason: `data [${c.offset}, ${c.offset + 32}) lies past the end of the file (${bytes.length} bytes); the file is truncated` },
    ]);
    expect(c.offset).toBe(h.dataOffset + 64);
    const path = join(tempDir(), 'partial.gguf');
    writeFileSync(path, bytes);
    const f = GgufFile.open(path, { keepTruncated: true });
    try {
      expect([...f.readTensorBytes(f.tensor('a'))]).toEqual(new Array(32).fill(1));
      expect(f.dataProblem(f.tensor('a'))).toBeUndefined();
      expect(f.dataProblem(f.tensor('b'))).toBe(h.problems![0]!.reason);
      expect(() => f.readTensorBytes(f.tensor('b'))).toThrow(`${path}: tensor b: ${h.problems![0]!.reason}`);
    } finally {
      f.close();
    }
  });

  it('lists a tensor larger than the whole file, and keeps the first problem of a tensor that has two', () => {
    const { whole } = cutFile(0, { shape: [4096] });
    const h = parseGguf(new BufferByteSource(whole), { keepTruncated: true });
    expect(h.problems).toEqual([{ tensor: 'c', reason: `F32 data of 16384 bytes is larger than the whole file (${whole.length} bytes)` }]);
    const far = whole.slice();
    new DataView(far.buffer).setBigUint64(Buffer.from(far).indexOf('c') + 1 + 4 + 8 + 4, 2n ** 40n, true); // c's offset: after its name, n_dims, dimension and type
    expect(parseGguf(new BufferByteSource(far), { keepTruncated: true }).problems).toEqual([
      { tensor: 'c', reason: `data offset 1099511627776 (from the data section) lies past the end of the file (${whole.length} bytes)` },
    ]);
  });

  it('gives the exact size of a tensor of more than 2^53 bytes', () => {
    const { whole } = cutFile(0, { typeId: 28, shape: [2 ** 52] }); // F64: 2^55 bytes
    const h = parseGguf(new BufferByteSource(whole), { keepTruncated: true });
    const c = h.tensors.find((t) => t.name === 'c')!;
    expect(c.exact).toEqual({ offset: BigInt(h.dataOffset + 64), nbytes: 2n ** 55n });
    expect(h.tensors.find((t) => t.name === 'b')!.exact).toBeUndefined();
  });
});


describe('byte sources', () => {
  it('refuse a read past the end of the data, saying where it ends', () => {
    const source = new BufferByteSource(new Uint8Array([1, 2, 3, 4, 5]));
    const into = new Uint8Array(3);
    source.readInto(into, 2);
    expect([...into]).toEqual([3, 4, 5]);
    expect(() => source.readInto(new Uint8Array(4), 2)).toThrow(new RangeError('unexpected end of data at byte 5'));
    const path = join(tempDir(), 'five');
    writeFileSync(path, new Uint8Array([1, 2, 3, 4, 5]));
    const file = new FileByteSource(path);
    try {
      expect([...file.read(1, 4)]).toEqual([2, 3, 4, 5]);
      expect(() => file.read(2, 4)).toThrow(new RangeError('unexpected end of file at byte 5'));
    } finally {
      file.close();
    }
  });
});
