import { isUtf8 } from 'node:buffer';
import { InputError, LimitError } from '../errors.js';
import { ggmlTypeById, ggmlTypeName } from './ggml-types.js';
import * as limits from './limits.js';
import {
  type GgufArray,
  type GgufHeader,
  type GgufMetadataEntry,
  type GgufTensorInfo,
  type GgufValue,
  GgufValueType,
} from './types.js';

/** Anything that can hand out bytes by absolute position (a file, or a buffer in tests). */
export interface ByteSource {
  readonly size: number;
  readInto(into: Uint8Array, position: number): void;
}

const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const DEFAULT_ALIGNMENT = 32;
const FIRST_WINDOW = 1 << 20;
/** The window doubles up to this; a single value larger than it gets a window of its own size. */
const MAX_WINDOW = 64 << 20;

/**
 * Estimated bytes of JS heap per parsed value, charged against limits.MAX_HEADER_MEMORY before the
 * values are made: a string costs its bytes on top; a typed array element costs its own width.
 */
const HEADER_COSTS = {
  string: 32,
  arraySlot: 8,
  nestedArray: 512,
  metadataEntry: 64,
  tensorInfo: 640, // the info object, its shape array and its name (measured: ~600 bytes with 4 dims)
} as const;

/** Bytes each value type needs at least: lets counts be checked before anything is allocated. */
const MIN_VALUE_BYTES: Record<GgufValueType, number> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.STRING]: 8,
  [GgufValueType.ARRAY]: 12,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
};

/** The typed array that holds each fixed-size value type, for whole-array copies. */
const TYPED_ARRAYS = {
  [GgufValueType.UINT8]: Uint8Array,
  [GgufValueType.INT8]: Int8Array,
  [GgufValueType.UINT16]: Uint16Array,
  [GgufValueType.INT16]: Int16Array,
  [GgufValueType.UINT32]: Uint32Array,
  [GgufValueType.INT32]: Int32Array,
  [GgufValueType.FLOAT32]: Float32Array,
  [GgufValueType.UINT64]: BigUint64Array,
  [GgufValueType.INT64]: BigInt64Array,
  [GgufValueType.FLOAT64]: Float64Array,
} as const;

/** Width and DataView getter of each fixed-size scalar type. */
const SCALARS = {
  [GgufValueType.UINT8]: [1, 'getUint8'],
  [GgufValueType.INT8]: [1, 'getInt8'],
  [GgufValueType.UINT16]: [2, 'getUint16'],
  [GgufValueType.INT16]: [2, 'getInt16'],
  [GgufValueType.UINT32]: [4, 'getUint32'],
  [GgufValueType.INT32]: [4, 'getInt32'],
  [GgufValueType.FLOAT32]: [4, 'getFloat32'],
  [GgufValueType.FLOAT64]: [8, 'getFloat64'],
  [GgufValueType.UINT64]: [8, 'getBigUint64'],
  [GgufValueType.INT64]: [8, 'getBigInt64'],
} as const;

/**
 * A forward cursor over the header. It keeps a window of the file in memory and grows it on
 * demand, so a 7 MB header costs a handful of reads and a small file a single one.
 */
class HeaderCursor {
  private window: Buffer = Buffer.alloc(0);
  private view = new DataView(this.window.buffer);
  private windowStart = 0;
  /** Absolute position of the next byte to read. */
  pos = 0;

  constructor(
    private readonly source: ByteSource,
    private readonly file: string | undefined,
    public littleEndian = true,
  ) {}

  get remaining(): number {
    return this.source.size - this.pos;
  }

  fail(reason: string): never {
    throw new InputError(this.file, reason);
  }

  limit(reason: string): never {
    throw new LimitError(this.file, reason);
  }

  private memoryLeft = limits.MAX_HEADER_MEMORY;

  /** Counts `bytes` of estimated memory against the header's budget before they are allocated. */
  charge(bytes: number, what: string): void {
    this.memoryLeft -= bytes;
    if (this.memoryLeft < 0) {
      this.limit(`${what} would take the parsed header over ${limits.MAX_HEADER_MEMORY / 2 ** 20} MiB of memory (the limit for headers)`);
    }
  }

  /** Makes `n` bytes at pos available; returns their index in the window. */
  private need(n: number, what: string): number {
    if (n > this.remaining) {
      this.fail(`truncated: ${what} needs ${n} bytes at offset ${this.pos}, but the file ends at ${this.source.size}`);
    }
    let at = this.pos - this.windowStart;
    if (at + n > this.window.length) {
      const size = Math.min(Math.max(Math.min(2 * this.window.length, MAX_WINDOW), n + FIRST_WINDOW), this.remaining);
      this.window = Buffer.allocUnsafe(size);
      this.source.readInto(this.window, this.pos);
      this.view = new DataView(this.window.buffer, this.window.byteOffset, this.window.length);
      this.windowStart = this.pos;
      at = 0;
    }
    this.pos += n;
    return at;
  }

  /** One fixed-size scalar of a metadata value type. */
  scalar(type: keyof typeof SCALARS, what: string): number | bigint {
    const [n, get] = SCALARS[type];
    const at = this.need(n, what); // need() may replace the view: call it first
    return this.view[get](at, this.littleEndian);
  }
  u32(what: string): number {
    return this.scalar(GgufValueType.UINT32, what) as number;
  }
  u64(what: string): bigint {
    return this.scalar(GgufValueType.UINT64, what) as bigint;
  }

  /** A u64 that must fit a double exactly and stay under `max`, else a LimitError. */
  count(what: string, max: number): number {
    // Two u32 reads instead of a bigint: this runs for every one of ~400k vocabulary strings.
    const at = this.need(8, what);
    const lo = this.view.getUint32(this.littleEndian ? at : at + 4, this.littleEndian);
    const hi = this.view.getUint32(this.littleEndian ? at + 4 : at, this.littleEndian);
    const value = hi * 2 ** 32 + lo; // rounded above 2^53, which is far over every limit anyway
    if (value > max) {
      const exact = (BigInt(hi) << 32n) | BigInt(lo);
      this.limit(`${what} is ${exact}, over the limit of ${max}`);
    }
    return value;
  }

  /** A string; `strict` refuses invalid UTF-8 (names and keys: replacement characters could make
   * two different names equal), values are decoded leniently. */
  string(what: string, maxLength: number, strict = false): string {
    const length = this.count(`${what} length`, maxLength);
    this.charge(HEADER_COSTS.string + length, what);
    const at = this.need(length, what);
    if (strict && !isUtf8(this.window.subarray(at, at + length))) this.fail(`${what} is not valid UTF-8`);
    return this.window.toString('utf8', at, at + length);
  }

  /** Copies `count` fixed-size elements into a fresh, aligned typed array (byte-swapping if BE). */
  typedArray(type: keyof typeof TYPED_ARRAYS, count: number, what: string) {
    const Ctor = TYPED_ARRAYS[type];
    const bytes = count * Ctor.BYTES_PER_ELEMENT;
    const at = this.need(bytes, what);
    const out = new Ctor(count);
    const outBytes = new Uint8Array(out.buffer);
    outBytes.set(this.window.subarray(at, at + bytes));
    if (!this.littleEndian && Ctor.BYTES_PER_ELEMENT > 1) byteSwapInPlace(outBytes, Ctor.BYTES_PER_ELEMENT);
    return out;
  }
}

function byteSwapInPlace(bytes: Uint8Array, width: number): void {
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

function valueTypeName(type: number): string {
  return GgufValueType[type] ?? `value type ${type}`;
}

function readValue(cur: HeaderCursor, type: number, what: string, depth: number): GgufValue {
  if (type in SCALARS) return cur.scalar(type as keyof typeof SCALARS, what);
  switch (type) {
    case GgufValueType.BOOL: {
      const byte = cur.scalar(GgufValueType.UINT8, what) as number;
      if (byte > 1) cur.fail(`${what}: a bool must be 0 or 1, found ${byte}`);
      return byte === 1;
    }
    case GgufValueType.STRING:
      return cur.string(what, limits.MAX_STRING_LENGTH);
    case GgufValueType.ARRAY:
      return readArray(cur, what, depth + 1);
    default:
      return cur.fail(`${what}: unknown metadata value type ${type}`);
  }
}

function readArray(cur: HeaderCursor, what: string, depth: number): GgufArray {
  if (depth > limits.MAX_ARRAY_DEPTH) cur.limit(`${what}: arrays nested deeper than ${limits.MAX_ARRAY_DEPTH}`);
  const elementType = cur.u32(`${what} element type`);
  const minBytes = MIN_VALUE_BYTES[elementType as GgufValueType];
  if (minBytes === undefined) cur.fail(`${what}: unknown array element type ${elementType}`);
  const count = cur.count(`${what} element count`, limits.MAX_ARRAY_LENGTH);
  if (count * minBytes > cur.remaining) {
    cur.fail(`${what}: ${count} elements of ${valueTypeName(elementType)} need at least ${count * minBytes} bytes, but only ${cur.remaining} remain`);
  }
  if (elementType in TYPED_ARRAYS) {
    const Ctor = TYPED_ARRAYS[elementType as keyof typeof TYPED_ARRAYS];
    cur.charge(count * Ctor.BYTES_PER_ELEMENT, what);
    return { elementType, values: cur.typedArray(elementType as keyof typeof TYPED_ARRAYS, count, what) };
  }
  const perElement = HEADER_COSTS.arraySlot + (elementType === GgufValueType.ARRAY ? HEADER_COSTS.nestedArray : 0);
  cur.charge(count * perElement, `${what}: ${count} elements of ${valueTypeName(elementType)}`);
  const values: (string | boolean | GgufArray)[] = new Array(count);
  for (let i = 0; i < count; i++) values[i] = readValue(cur, elementType, what, depth) as string | boolean | GgufArray;
  return { elementType, values } as GgufArray;
}

/** Detects the byte order from the version field: a real version is small in its own order. */
function detectByteOrder(cur: HeaderCursor): { version: number; littleEndian: boolean; other: number } {
  const le = cur.u32('version');
  const be = ((le & 0xff) << 24 | (le & 0xff00) << 8 | (le >>> 8) & 0xff00 | le >>> 24) >>> 0;
  if ((le & 0xffff) === 0 && be !== 0 && be <= 0xffff) return { version: be, littleEndian: false, other: le };
  return { version: le, littleEndian: true, other: be };
}

export interface ParseOptions {
  /** The file name used in error messages. */
  file?: string;
  /**
   * Tensors whose data lies (partly) past the end of the file go to header.problems instead of failing
   * the parse: the header of a truncated or header-only file is still worth reading (inspect).
   */
  keepTruncated?: boolean;
}

/** Parses and validates a GGUF header. Every tensor's bytes are checked to lie inside the file. */
export function parseGguf(source: ByteSource, options: ParseOptions = {}): GgufHeader {
  const file = options.file;
  const cur = new HeaderCursor(source, file);
  if (source.size === 0) cur.fail('an empty file (0 bytes), not a GGUF file');
  if (source.size < 4 || cur.u32('magic') !== GGUF_MAGIC) cur.fail('not a GGUF file (bad magic)');
  const { version, littleEndian, other } = detectByteOrder(cur);
  cur.littleEndian = littleEndian;
  if (version === 1) cur.fail('GGUF version 1 is not supported (it predates 64-bit counts); re-convert the model');
  if (version !== 2 && version !== 3) {
    const [asLe, asBe] = littleEndian ? [version, other] : [other, version];
    // a large number in either byte order is no version at all: show both readings
    const found = version <= 0xffff ? `${version}` : `field (${asLe} read little-endian, ${asBe} big-endian)`;
    cur.fail(`unsupported GGUF version ${found} (supported: 2 and 3)`);
  }

  // Smallest possible tensor info: 8-byte name length, 4 n_dims (0 for a scalar), 4 type, 8 offset.
  const tensorCount = cur.count('tensor count', limits.MAX_TENSOR_COUNT);
  const kvCount = cur.count('metadata count', limits.MAX_METADATA_COUNT);
  // Smallest possible metadata entry: 8-byte key length, 4-byte type, 1-byte value.
  if (kvCount * 13 + tensorCount * 24 > cur.remaining) {
    cur.fail(`header claims ${tensorCount} tensors and ${kvCount} metadata entries, more than the ${cur.remaining} remaining bytes can hold`);
  }

  const metadata: GgufMetadataEntry[] = [];
  const keys = new Set<string>();
  for (let i = 0; i < kvCount; i++) {
    const key = cur.string(`metadata key #${i}`, limits.MAX_KEY_LENGTH, true);
    if (keys.has(key)) cur.fail(`duplicate metadata key "${key}"`);
    keys.add(key);
    const type = cur.u32(`type of "${key}"`);
    cur.charge(HEADER_COSTS.metadataEntry, `metadata "${key}"`);
    metadata.push({ key, type, value: readValue(cur, type, `metadata "${key}"`, 0) });
  }

  const alignmentEntry = metadata.find((entry) => entry.key === 'general.alignment');
  let alignment = DEFAULT_ALIGNMENT;
  if (alignmentEntry) {
    const a = alignmentEntry.value;
    if (alignmentEntry.type !== GgufValueType.UINT32 || typeof a !== 'number' || a === 0 || (a & (a - 1)) !== 0) {
      const found = typeof a === 'object' ? 'an array' : String(a);
      cur.fail(`general.alignment must be a nonzero power of two of type UINT32, found ${valueTypeName(alignmentEntry.type)} ${found}`);
    }
    alignment = a as number;
  }

  const infos: (Omit<GgufTensorInfo, 'offset'> & { relativeOffset64: bigint; bytes64?: bigint })[] = [];
  const problems = new Map<string, string>(); // with keepTruncated: a tensor's first problem, in file order
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = cur.string(`name of tensor #${i}`, limits.MAX_TENSOR_NAME_LENGTH, true);
    cur.charge(HEADER_COSTS.tensorInfo, `tensor #${i}`);
    const label = name === '' ? `#${i} (empty name)` : name; // what errors call it
    const fail = (reason: string): never => {
      throw new InputError(file, reason, label);
    };
    if (names.has(name)) fail('duplicate tensor name');
    names.add(name);
    const nDims = cur.u32(`dimension count of ${label}`);
    if (nDims > limits.MAX_DIMS) {
      throw new LimitError(file, `${nDims} dimensions, over the limit of ${limits.MAX_DIMS}`, label);
    }
    const shape: number[] = [];
    let elements = 1n;
    for (let d = 0; d < nDims; d++) {
      const ne = cur.u64(`dimension ${d} of ${label}`);
      elements *= ne;
      if (elements > BigInt(limits.MAX_TENSOR_ELEMENTS) || ne > BigInt(limits.MAX_TENSOR_ELEMENTS)) {
        throw new LimitError(file, `dimensions so far [${[...shape, ne].join(', ')}] exceed ${limits.MAX_TENSOR_ELEMENTS} elements`, label);
      }
      shape.push(Number(ne));
    }
    const typeId = cur.u32(`type of ${label}`);
    const type = ggmlTypeById(typeId);
    const relativeOffset64 = cur.u64(`offset of ${label}`);
    // Past the end: with keepTruncated a problem of this tensor alone, whose offset and size (then
    // possibly beyond 2^53, so only approximate as numbers) are shown but never used to read.
    const pastEnd = relativeOffset64 > BigInt(source.size);
    if (pastEnd) {
      const reason = `data offset ${relativeOffset64} (from the data section) lies past the end of the file (${source.size} bytes)`;
      if (!options.keepTruncated) fail(reason);
      problems.set(name, reason);
    }
    const relativeOffset = Number(relativeOffset64);
    if (!pastEnd && relativeOffset % alignment !== 0) fail(`data offset ${relativeOffset} is not a multiple of the alignment ${alignment}`);
    let nbytes: number | undefined;
    let bytes64: bigint | undefined;
    if (type) {
      const ne0 = shape[0] ?? 1;
      if (ne0 % type.blockSize !== 0) fail(`row length ${ne0} is not a multiple of the ${type.name} block size ${type.blockSize}`);
      // elements <= 2^53 and typeSize/blockSize <= 8, so the size is exact as a double only after
      // a bigint check.
      const bytes = (elements / BigInt(type.blockSize)) * BigInt(type.typeSize);
      if (bytes > BigInt(source.size)) {
        const reason = `${type.name} data of ${bytes} bytes is larger than the whole file (${source.size} bytes)`;
        if (!options.keepTruncated) fail(reason);
        if (!problems.has(name)) problems.set(name, reason);
      }
      nbytes = Number(bytes);
      bytes64 = bytes;
    }
    infos.push({ name, typeId, type, shape, elements: Number(elements), relativeOffset, nbytes, relativeOffset64, bytes64 });
  }

  const dataOffset = Math.ceil(cur.pos / alignment) * alignment;
  const tensors = infos.map(({ relativeOffset64, bytes64, ...info }): GgufTensorInfo => {
    const offset = dataOffset + info.relativeOffset;
    const end = offset + (info.nbytes ?? 0);
    if (end > source.size && !problems.has(info.name)) {
      const reason = `data [${offset}, ${end}) lies past the end of the file (${source.size} bytes); the file is truncated`;
      if (!options.keepTruncated) throw new InputError(file, reason, info.name);
      problems.set(info.name, reason);
    }
    const exactOffset = BigInt(dataOffset) + relativeOffset64;
    const unsafe = exactOffset > BigInt(Number.MAX_SAFE_INTEGER) || (bytes64 ?? 0n) > BigInt(Number.MAX_SAFE_INTEGER);
    return { ...info, offset, ...(unsafe ? { exact: { offset: exactOffset, nbytes: bytes64 } } : {}) };
  });
  refuseOverlaps(tensors.filter((t) => !problems.has(t.name)), file); // the data of the others is never read
  return { version, littleEndian, alignment, dataOffset, metadata, tensors, ...(options.keepTruncated ? { problems: [...problems].map(([tensor, reason]) => ({ tensor, reason })) } : {}) };
}

/** ggml lays tensors out one after another; data shared by two tensors is a corrupt or hostile file. */
function refuseOverlaps(tensors: readonly GgufTensorInfo[], file: string | undefined): void {
  const sized = tensors.filter((t) => (t.nbytes ?? 0) > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sized.length; i++) {
    const prev = sized[i - 1]!;
    const t = sized[i]!;
    if (prev.offset + prev.nbytes! > t.offset) {
      throw new InputError(file, `data [${t.offset}, ${t.offset + t.nbytes!}) overlaps tensor ${prev.name}'s [${prev.offset}, ${prev.offset + prev.nbytes!})`, t.name);
    }
  }
}

/** The tensor's type name: the same as ggmlTypeName(tensor.typeId), parsing having set `type` from that id. */
export function describeType(tensor: GgufTensorInfo): string {
  return tensor.type?.name ?? ggmlTypeName(tensor.typeId);
}
