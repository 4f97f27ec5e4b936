import { describe, expect, it, vi } from 'vitest';
import { LimitError } from '../../src/errors.js';
import { BufferByteSource } from '../../src/gguf/byte-source.js';
import { parseGguf } from '../../src/gguf/parse.js';
import { GgufValueType } from '../../src/gguf/types.js';
import { writeGguf, type WriterOptions } from '../../src/gguf/writer.js';

// The header's memory budget (1 GiB) lowered to 64 KiB, so that what each value is charged can be seen
// on files of a few kilobytes.
vi.mock('../../src/gguf/limits.js', async (importOriginal) => ({ ...(await importOriginal<object>()), MAX_HEADER_MEMORY: 64 * 1024 }));

const parse = (options: WriterOptions) => parseGguf(new BufferByteSource(writeGguf(options)), { file: 'mem.gguf' });
const over = (what: string) => new LimitError('mem.gguf', `${what} would take the parsed header over 0.0625 MiB of memory (the limit for headers)`);

describe('the header memory budget (lowered to 64 KiB)', () => {
  it('charges a string its bytes', () => {
    expect(parse({ metadata: [{ key: 's', type: GgufValueType.STRING, value: 'x'.repeat(60_000) }] }).metadata).toHaveLength(1);
    expect(() => parse({ metadata: [{ key: 's', type: GgufValueType.STRING, value: 'x'.repeat(70_000) }] })).toThrow(over('metadata "s"'));
  });

  it('charges a typed array its bytes, not its element count', () => {
    const u64 = (n: number) => ({ key: 'a', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.UINT64, values: new BigUint64Array(n) } });
    expect(parse({ metadata: [u64(7_000)] }).metadata).toHaveLength(1); // 56 KB
    expect(() => parse({ metadata: [u64(9_000)] })).toThrow(over('metadata "a"')); // 72 KB
  });

  it('charges nested arrays more than strings, per element', () => {
    const strings = { key: 'a', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.STRING, values: new Array(1000).fill('') } };
    expect(parse({ metadata: [strings] }).metadata).toHaveLength(1);
    const arrays = { key: 'a', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.ARRAY, values: new Array(1000).fill({ elementType: GgufValueType.UINT8, values: new Uint8Array(0) }) } };
    expect(() => parse({ metadata: [arrays] })).toThrow(over('metadata "a": 1000 elements of ARRAY'));
  });

  it('charges every tensor info, naming the one over the budget', () => {
    const scalars = (n: number) => ({ tensors: Array.from({ length: n }, (_, i) => ({ name: `t${i}`, typeId: 0, shape: [], data: new Uint8Array(4) })) });
    expect(parse(scalars(80)).tensors).toHaveLength(80);
    expect(() => parse(scalars(200))).toThrow(/^mem\.gguf: tensor #\d+ would take the parsed header over 0\.0625 MiB/);
  });
});
