// A tensor to check or time, from a GGUF file or generated in memory, behind one interface.
import { tensorRows } from './dequant.js';
import type { GgufFile } from './gguf/file.js';
import { ggmlTypeById, ggmlTypeName, tensorByteSize } from './gguf/ggml-types.js';
import type { GgufTensorInfo } from './gguf/types.js';
import { randomBlocks } from './quant/random.js';

export interface TensorSource {
  readonly name: string;
  readonly typeId: number;
  readonly typeName: string;
  /** [ne0, ne1, ...] */
  readonly shape: readonly number[];
  readonly rows: number;
  readonly rowLength: number;
  readonly nbytes: number;
  /** Raw bytes [start, start + length) of the tensor's blocks. */
  read(start: number, length: number): Uint8Array;
  /** Why its bytes cannot be read: its data lies past the end of a truncated file. */
  readonly missing?: string;
  /** The file, its descriptor and the absolute offset, when the bytes live in a file (fast GPU upload). */
  readonly file?: { path: string; fd: number; offset: number };
}

export function fileTensor(file: GgufFile, t: GgufTensorInfo): TensorSource {
  return {
    name: t.name,
    typeId: t.typeId,
    typeName: ggmlTypeName(t.typeId),
    shape: t.shape,
    ...tensorRows(t),
    nbytes: t.nbytes ?? 0,
    read: (start, length) => file.readTensorBytes(t, start, length),
    missing: file.dataProblem(t),
    file: { path: file.path, fd: file.source.fd, offset: t.offset },
  };
}

/** A seeded random tensor of a type: the same seed always gives the same bytes. */
export function generatedTensor(typeId: number, rowLength: number, rows: number, seed: number, name?: string): TensorSource {
  const info = ggmlTypeById(typeId);
  if (!info) throw new Error(`unknown type ${typeId}`);
  const nbytes = tensorByteSize(typeId, [rowLength, rows]);
  let bytes: Uint8Array | undefined;
  return {
    name: name ?? `${info.name.toLowerCase()}[${rowLength},${rows}]`,
    typeId,
    typeName: ggmlTypeName(typeId),
    shape: [rowLength, rows],
    rowLength,
    rows,
    nbytes,
    read(start, length) {
      bytes ??= randomBlocks(typeId, rowLength * rows, seed);
      return bytes.subarray(start, start + length);
    },
  };
}
