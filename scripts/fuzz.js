#!/usr/bin/env node
// Fuzzes the GGUF reader with seeded mutations of real files. Every case must end in a clean read
// or a typed InputError, within a second, without an allocation larger than the input. "sparse"
// cases claim huge counts inside a file of 2^40 bytes that reads as zeros past its header (a sparse
// file costs no disk): they may allocate and take a few seconds, but within the header's memory budget.
// Usage: npm run fuzz [-- --cases N] [--seed S] [--file f.gguf ...]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { InputError } from '../dist/errors.js';
import { BufferByteSource } from '../dist/gguf/byte-source.js';
import { tensorByteSize } from '../dist/gguf/ggml-types.js';
import { parseGguf } from '../dist/gguf/parse.js';
import { GgufValueType } from '../dist/gguf/types.js';
import { writeGguf } from '../dist/gguf/writer.js';
import { decoderFor } from '../dist/quant/index.js';
import { randomBlocks, seededRandom } from '../dist/quant/random.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    file: { type: 'string', multiple: true },
  },
});
const cases = Number(values.cases);
const rand = seededRandom(Number(values.seed));
const int = (n) => Math.floor(rand() * n);

/** A generated file that exercises every metadata type, nesting and several tensor types. */
function generated() {
  const tensors = [2, 12, 14, 8, 0].map((typeId, i) => ({
    name: `blk.${i}.w`,
    typeId,
    shape: [256, 3],
    data: randomBlocks(typeId, 768, i),
  }));
  return writeGguf({
    metadata: [
      { key: 'general.architecture', type: GgufValueType.STRING, value: 'llama' },
      { key: 'n', type: GgufValueType.UINT64, value: 123n },
      { key: 'f', type: GgufValueType.FLOAT32, value: 0.5 },
      { key: 'b', type: GgufValueType.BOOL, value: false },
      { key: 'tokens', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.STRING, values: ['a', 'bb', 'ccc'] } },
      { key: 'nested', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.ARRAY, values: [{ elementType: GgufValueType.INT16, values: new Int16Array([1, -1]) }] } },
    ],
    tensors,
  });
}

/** A file whose bytes past `bytes` read as zeros, `size` long: what a sparse file looks like. */
class ZeroExtendedSource {
  constructor(bytes, size) {
    this.bytes = bytes;
    this.size = size;
  }
  readInto(into, position) {
    into.fill(0);
    if (position < this.bytes.length) into.set(this.bytes.subarray(position, position + into.length));
  }
}

/** One metadata array "a" of `count` elements of `elementType`, its elements left to the zeros. */
function sparseArray(elementType, count) {
  const b = writeGguf({ metadata: [{ key: 'a', type: GgufValueType.ARRAY, value: { elementType, values: [] } }] });
  new DataView(b.buffer).setBigUint64(41, BigInt(count), true); // key length 24, "a" 32, type 33, element type 37
  return b;
}

const defaults = [new URL('../../shared/fixtures/ggml-quants.gguf', import.meta.url).pathname];
const little = generated();
const bigEndian = writeGguf({ littleEndian: false, metadata: [...parseGguf(new BufferByteSource(little)).metadata] }); // its metadata, big-endian
const bases = [little, bigEndian, ...(values.file ?? defaults).flatMap((f) => {
  try {
    return [new Uint8Array(readFileSync(f))];
  } catch {
    console.error(`fuzz: skipping ${f} (not readable)`);
    return [];
  }
})];

const INTERESTING_U64 = [0n, 1n, 2n, 3n, 4n, 255n, 256n, 65535n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 62n, 2n ** 63n, 2n ** 64n - 1n];

const headerEnds = new Map();
function headerEnd(bytes) {
  if (headerEnds.has(bytes)) return headerEnds.get(bytes);
  try {
    headerEnds.set(bytes, parseGguf(new BufferByteSource(bytes)).dataOffset);
  } catch {
    headerEnds.set(bytes, bytes.length);
  }
  return headerEnds.get(bytes);
}

function mutate(base) {
  const end = Math.min(headerEnd(base), base.length);
  const kind = int(8);
  switch (kind) {
    case 0: // truncate anywhere, biased to the header
      return { kind: 'truncate', bytes: base.slice(0, rand() < 0.8 ? int(end + 1) : int(base.length)) };
    case 1: { // flip random bytes in the header
      const b = base.slice();
      for (let i = 0, n = 1 + int(8); i < n; i++) b[int(end)] ^= 1 << int(8);
      return { kind: 'flip', bytes: b };
    }
    case 2: { // an absurd 64-bit value anywhere in the header
      const b = base.slice();
      const at = int(Math.max(1, end - 8));
      new DataView(b.buffer).setBigUint64(at, INTERESTING_U64[int(INTERESTING_U64.length)], true);
      return { kind: 'u64', bytes: b };
    }
    case 3: { // an absurd 32-bit value (types, dimension counts, value types)
      const b = base.slice();
      const at = int(Math.max(1, end - 4));
      new DataView(b.buffer).setUint32(at, [0, 1, 4, 5, 13, 39, 40, 99, 0xffff, 0xffffffff][int(10)], true);
      return { kind: 'u32', bytes: b };
    }
    case 4: { // delete or duplicate a slice of the header
      const at = int(end);
      const len = 1 + int(32);
      const join = (x, y) => {
        const b = new Uint8Array(x.length + y.length);
        b.set(x);
        b.set(y, x.length);
        return b;
      };
      const b = rand() < 0.5 ? join(base.subarray(0, at), base.subarray(at + len)) : join(base.subarray(0, at + len), base.subarray(at));
      return { kind: 'splice', bytes: b };
    }
    case 5: { // deep array nesting
      const depth = 1 + int(64);
      let value = { elementType: GgufValueType.UINT8, values: new Uint8Array([1]) };
      for (let i = 0; i < depth; i++) value = { elementType: GgufValueType.ARRAY, values: [value] };
      return { kind: 'nesting', bytes: writeGguf({ metadata: [{ key: 'deep', type: GgufValueType.ARRAY, value }] }) };
    }
    case 6: { // a huge claimed count in a sparse file: typed error or a read within the memory budget
      // up to 2^20 elements (bigger claims take the same paths, only slower: see test/gguf for 2^25)
      const count = 2 ** (8 + int(13)) + int(3) - 1;
      return { kind: 'sparse', bytes: sparseArray(int(13), count), sparse: true };
    }
    default: { // a tensor whose declared shape or offset disagrees with the data
      const typeId = [2, 12, 14, 8, 0, 1, 30][int(7)];
      const shape = [256 * (1 + int(4)), 1 + int(4)];
      const data = new Uint8Array(Math.max(0, tensorByteSize(typeId, shape) - int(2) * 64));
      try {
        return { kind: 'shape', bytes: writeGguf({ tensors: [{ name: 't', typeId, shape: [shape[0] + int(3) * 32, shape[1]], data }] }) };
      } catch {
        return { kind: 'shape', bytes: writeGguf({ tensors: [{ name: 't', typeId, shape, data }] }) };
      }
    }
  }
}

const counts = { clean: 0, inputError: 0 };
const byKind = {};
let slowest = 0;
let failures = 0;
const started = performance.now();
for (let i = 0; i < cases; i++) {
  const base = bases[int(bases.length)];
  const { kind, bytes, sparse } = mutate(base);
  byKind[kind] = (byKind[kind] ?? 0) + 1;
  const t0 = performance.now();
  const before = process.memoryUsage().arrayBuffers;
  const heapBefore = process.memoryUsage().heapUsed;
  try {
    const source = sparse ? new ZeroExtendedSource(bytes, 2 ** 40) : new BufferByteSource(bytes);
    // every other case as inspect, dequant, matmul and verify open a file: truncated tensors listed, not fatal
    const keepTruncated = i % 2 === 1;
    const h = parseGguf(source, { file: `case${i}`, keepTruncated });
    const missing = new Set((h.problems ?? []).map((p) => p.tensor));
    const heap = process.memoryUsage().heapUsed - heapBefore; // h is alive: its values are counted
    if (heap > 2 ** 30) throw new Error(`the parsed header took ${heap} bytes of heap`);
    // A clean read must also decode: the first row of every supported tensor.
    for (const t of sparse ? [] : h.tensors) {
      if (missing.has(t.name)) continue;
      // what is not listed as missing must lie inside the file
      if (t.nbytes !== undefined && t.offset + t.nbytes > bytes.length) throw new Error(`tensor ${t.name} ends past the file but is not listed as missing`);
      const dec = decoderFor(t.typeId);
      if (!dec || t.nbytes === undefined || !h.littleEndian) continue;
      const rowBytes = (t.shape[0] / dec.info.blockSize) * dec.info.typeSize;
      const n = Math.min(rowBytes, t.nbytes);
      const blocks = Math.floor(n / dec.info.typeSize);
      dec.decode(bytes.subarray(t.offset, t.offset + n), new Float32Array(blocks * dec.info.blockSize), blocks);
    }
    counts.clean++;
  } catch (error) {
    if (error instanceof InputError) counts.inputError++;
    else {
      failures++;
      console.error(`case ${i} (${kind}): untyped ${error?.constructor?.name}: ${error?.message}`);
    }
  }
  const ms = performance.now() - t0;
  slowest = Math.max(slowest, ms);
  const grown = process.memoryUsage().arrayBuffers - before;
  if (ms > (sparse ? 5000 : 1000)) { // a sparse case may legitimately read a million values
    failures++;
    console.error(`case ${i} (${kind}): took ${ms.toFixed(0)} ms`);
  }
  if (!sparse && grown > 2 * bytes.length + (16 << 20)) {
    failures++;
    console.error(`case ${i} (${kind}): allocated ${grown} bytes for a ${bytes.length}-byte input`);
  }
}
const secs = (performance.now() - started) / 1000;
console.log(`fuzz: ${cases} cases in ${secs.toFixed(1)} s (${JSON.stringify(byKind)}); clean reads ${counts.clean}, typed input errors ${counts.inputError}, slowest ${slowest.toFixed(1)} ms`);
console.log(`${cases - failures} passed, ${failures} failed`);
process.exitCode = failures ? 1 : 0;
