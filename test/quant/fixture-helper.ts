// A minimal GGUF v3 reader for the quant tests: just enough to list tensors and slice their raw
// bytes out of the fixture files. The real reader lives in src/gguf/; this one keeps the decoder
// tests independent of it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../cli/helpers.js';

const FIXTURE_DIR = FIXTURES;

export interface FixtureTensor {
  name: string;
  dims: number[];
  type: number;
  /** Offset relative to the data section. */
  offset: number;
  nElements: number;
}

export interface FixtureFile {
  tensors: Map<string, FixtureTensor>;
  buf: Uint8Array;
  dataStart: number;
}

const cache = new Map<string, FixtureFile>();

export function loadFixture(fileName: string): FixtureFile {
  const hit = cache.get(fileName);
  if (hit) return hit;
  const nodeBuf = readFileSync(join(FIXTURE_DIR, fileName));
  const buf = new Uint8Array(nodeBuf.buffer, nodeBuf.byteOffset, nodeBuf.byteLength);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = 0;
  const u32 = () => { const v = dv.getUint32(p, true); p += 4; return v; };
  const u64 = () => { const v = Number(dv.getBigUint64(p, true)); p += 8; return v; };
  const str = () => { const n = u64(); const s = new TextDecoder().decode(buf.subarray(p, p + n)); p += n; return s; };
  const fixed = [1, 1, 2, 2, 4, 4, 4, 1, -1, -1, 8, 8, 8];
  let alignment = 32;
  const skipValue = (type: number): number | undefined => {
    if (type === 8) { str(); return undefined; }
    if (type === 9) {
      const et = u32();
      const n = u64();
      for (let i = 0; i < n; i++) skipValue(et);
      return undefined;
    }
    const size = fixed[type];
    if (size === undefined || size < 0) throw new Error(`bad GGUF value type ${type}`);
    const v = size === 4 ? dv.getUint32(p, true) : undefined;
    p += size;
    return v;
  };

  if (u32() !== 0x46554747) throw new Error('not a GGUF file');
  const version = u32();
  if (version !== 3) throw new Error(`GGUF version ${version}`);
  const nTensors = u64();
  const nKv = u64();
  for (let i = 0; i < nKv; i++) {
    const key = str();
    const type = u32();
    const v = skipValue(type);
    if (key === 'general.alignment' && v !== undefined) alignment = v;
  }
  const tensors = new Map<string, FixtureTensor>();
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nDims = u32();
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(u64());
    const type = u32();
    const offset = u64();
    tensors.set(name, { name, dims, type, offset, nElements: dims.reduce((a, b) => a * b, 1) });
  }
  const dataStart = Math.ceil(p / alignment) * alignment;
  const file = { tensors, buf, dataStart };
  cache.set(fileName, file);
  return file;
}

/** The raw bytes of a tensor (a view; byteOffset is whatever the file gives). */
export function tensorBytes(file: FixtureFile, t: FixtureTensor, nBytes: number): Uint8Array {
  const start = file.dataStart + t.offset;
  if (start + nBytes > file.buf.length) throw new Error(`tensor ${t.name} runs past the end of the file`);
  return file.buf.subarray(start, start + nBytes);
}

/** An F32 tensor's values, copied into a fresh Float32Array. */
export function tensorF32(file: FixtureFile, name: string): Float32Array {
  const t = file.tensors.get(name);
  if (!t) throw new Error(`no tensor ${name}`);
  if (t.type !== 0) throw new Error(`${name} is type ${t.type}, not F32`);
  const bytes = tensorBytes(file, t, t.nElements * 4);
  const out = new Float32Array(t.nElements);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
