import { fsReason, InputError } from '../errors.js';
import { FileByteSource } from './byte-source.js';
import { parseGguf } from './parse.js';
import type { GgufHeader, GgufTensorInfo, GgufValue } from './types.js';

/** An open GGUF file: its parsed header, and its tensor data read by position on demand. */
export class GgufFile {
  /** Tensors whose data cannot be read (opened with keepTruncated): name -> why. */
  private readonly problems: ReadonlyMap<string, string>;

  private constructor(
    readonly path: string,
    readonly source: FileByteSource,
    readonly header: GgufHeader,
  ) {
    this.problems = new Map((header.problems ?? []).map((p) => [p.tensor, p.reason]));
  }

  /** Opens and validates a file; every failure is an InputError naming the file. With
   * keepTruncated, tensors past the end are listed in header.problems instead, and only reading
   * one of them fails (a partly downloaded model still shows its header and gives its whole tensors). */
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

  /** Why the tensor's data cannot be read (it lies past the end of a file opened with keepTruncated). */
  dataProblem(tensor: GgufTensorInfo): string | undefined {
    return this.problems.get(tensor.name);
  }

  /** The tensor's byte count, or an InputError when its type is unknown or its data is missing. */
  requireSize(tensor: GgufTensorInfo): number {
    const problem = this.dataProblem(tensor);
    if (problem) throw new InputError(this.path, problem, tensor.name);
    if (tensor.nbytes === undefined) {
      throw new InputError(this.path, `unknown ggml type id ${tensor.typeId}; its size cannot be known`, tensor.name);
    }
    return tensor.nbytes;
  }

  close(): void {
    this.source.close();
  }
}
