// A small GGUF writer: builds files in memory for tests, the fuzzer and bench (a temporary file of
// generated weights, to time the loader's upload from a file).
import { tensorByteSize } from './ggml-types.js';
import { type GgufArray, type GgufValue, GgufValueType } from './types.js';

export interface WriterTensor {
  name: string;
  typeId: number;
  shape: number[];
  /**
   * Raw bytes, normally exactly the type's size for the shape. Left out, the tensor info still
   * declares its full size and no data is written: a header-only file, to be filled in later.
   */
  data?: Uint8Array;
}

export interface WriterOptions {
  version?: number;
  alignment?: number;
  littleEndian?: boolean;
  metadata?: { key: string; type: GgufValueType; value: GgufValue }[];
  tensors?: WriterTensor[];
}

class ByteWriter {
  private chunks: Uint8Array[] = [];
  length = 0;
  constructor(private readonly le: boolean) {}
  bytes(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  private num(width: number, set: (v: DataView) => void): void {
    const b = new Uint8Array(width);
    set(new DataView(b.buffer));
    this.bytes(b);
  }
  u8(v: number) { this.num(1, (d) => d.setUint8(0, v)); }
  i8(v: number) { this.num(1, (d) => d.setInt8(0, v)); }
  u16(v: number) { this.num(2, (d) => d.setUint16(0, v, this.le)); }
  i16(v: number) { this.num(2, (d) => d.setInt16(0, v, this.le)); }
  u32(v: number) { this.num(4, (d) => d.setUint32(0, v, this.le)); }
  i32(v: number) { this.num(4, (d) => d.setInt32(0, v, this.le)); }
  f32(v: number) { this.num(4, (d) => d.setFloat32(0, v, this.le)); }
  f64(v: number) { this.num(8, (d) => d.setFloat64(0, v, this.le)); }
  u64(v: bigint | number) { this.num(8, (d) => d.setBigUint64(0, BigInt(v), this.le)); }
  i64(v: bigint | number) { this.num(8, (d) => d.setBigInt64(0, BigInt(v), this.le)); }
  string(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.bytes(b);
  }
  pad(alignment: number) {
    const n = (alignment - (this.length % alignment)) % alignment;
    if (n) this.bytes(new Uint8Array(n));
  }
  concat(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.chunks)); // a plain copy: Buffer.slice would alias
  }
}

function writeValue(w: ByteWriter, type: GgufValueType, value: GgufValue): void {
  switch (type) {
    case GgufValueType.UINT8: return w.u8(value as number);
    case GgufValueType.INT8: return w.i8(value as number);
    case GgufValueType.UINT16: return w.u16(value as number);
    case GgufValueType.INT16: return w.i16(value as number);
    case GgufValueType.UINT32: return w.u32(value as number);
    case GgufValueType.INT32: return w.i32(value as number);
    case GgufValueType.FLOAT32: return w.f32(value as number);
    case GgufValueType.FLOAT64: return w.f64(value as number);
    case GgufValueType.UINT64: return w.u64(value as bigint);
    case GgufValueType.INT64: return w.i64(value as bigint);
    case GgufValueType.BOOL: return w.u8(value ? 1 : 0);
    case GgufValueType.STRING: return w.string(value as string);
    case GgufValueType.ARRAY: {
      const arr = value as GgufArray;
      w.u32(arr.elementType);
      const items = arr.values as ArrayLike<GgufValue>;
      w.u64(items.length);
      for (let i = 0; i < items.length; i++) writeValue(w, arr.elementType, items[i]!);
      return;
    }
    default:
      throw new Error(`cannot write value type ${type as number}`);
  }
}

export function writeGguf(options: WriterOptions): Uint8Array {
  const le = options.littleEndian ?? true;
  const alignment = options.alignment ?? 32;
  const metadata = [...(options.metadata ?? [])];
  if (options.alignment !== undefined && !metadata.some((m) => m.key === 'general.alignment')) {
    metadata.push({ key: 'general.alignment', type: GgufValueType.UINT32, value: alignment });
  }
  const tensors = options.tensors ?? [];
  const w = new ByteWriter(le);
  w.bytes(Buffer.from('GGUF', 'latin1'));
  w.u32(options.version ?? 3);
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const m of metadata) {
    w.string(m.key);
    w.u32(m.type);
    writeValue(w, m.type, m.value);
  }
  let offset = 0;
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.shape.length);
    for (const d of t.shape) w.u64(d);
    w.u32(t.typeId);
    w.u64(offset);
    offset += Math.ceil((t.data?.length ?? tensorByteSize(t.typeId, t.shape)) / alignment) * alignment;
  }
  w.pad(alignment);
  for (const t of tensors) {
    if (!t.data) continue;
    w.bytes(t.data);
    w.pad(alignment);
  }
  return w.concat();
}
