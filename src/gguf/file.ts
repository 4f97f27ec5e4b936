import { fsReason, InputError } from '../errors.js';
import { FileByteSource } from './byte-source.js';
import { parseGguf } from './parse.js';
import type { GgufHeader, GgufTensorInfo, GgufValue } from './types.js';

/** An open GGUF file: its parsed header, and its tensor data read by position on demand. */
export class GgufFile {
  private constructor(
    readonly path: string,
    readonly source: FileByteSource,
    readonly header: GgufHeader,
  ) {}

  /** Opens and validates a file; every failure is an InputError naming the file. With
   * keepTruncated, tensors past the end are listed in header.problems instead (inspect). */
  static open(path: string, options: { keepTruncated?: boolean } = {}): GgufFile {
    let source: FileByteSource;
    try {
      source = new FileByteSource(path);
    } catch (error) {
      throw new InputError(path, `cannot open: ${fsReason(error)}`);
    }
    try {
      return new GgufFile(path, source, parseGguf(source, { file: path, keepTruncated: options.keepTruncated }));
    } catch (error) {
      source.close();
      if (error instanceof InputError) throw error;
      throw new InputError(path, `cannot read: ${(error as Error).message}`);
    }
  }

  get size(): number {
    return this.source.size;
  }
  get tensors(): readonly GgufTensorInfo[] {
    return this.header.tensors;
  }

  tensor(name: string): GgufTensorInfo {
    const found = this.header.tensors.find((t) => t.name === name);
    if (!found) throw new InputError(this.path, `no tensor named "${name}"`);
    return found;
  }

  metadataValue(key: string): GgufValue | undefined {
    return this.header.metadata.find((entry) => entry.key === key)?.value;
  }

  /** Reads `length` bytes of a tensor's data starting `start` bytes into it. */
  readTensorBytes(tensor: GgufTensorInfo, start = 0, length?: number): Buffer {
    const total = this.requireSize(tensor);
    const n = length ?? total - start;
    if (start < 0 || n < 0 || start + n > total) {
      throw new InputError(this.path, `read of [${start}, ${start + n}) is outside the tensor's ${total} bytes`, tensor.name);
    }
    try {
      return this.source.read(tensor.offset + start, n);
    } catch (error) {
      throw new InputError(this.path, `reading tensor data failed: ${(error as Error).message}`, tensor.name);
    }
  }

  /** The tensor's byte count, or an InputError when its type is unknown. */
  requireSize(tensor: GgufTensorInfo): number {
    if (tensor.nbytes === undefined) {
      throw new InputError(this.path, `unknown ggml type id ${tensor.typeId}; its size cannot be known`, tensor.name);
    }
    return tensor.nbytes;
  }

  close(): void {
    this.source.close();
  }
}
