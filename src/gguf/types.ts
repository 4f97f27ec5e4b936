import type { GgmlTypeInfo } from './ggml-types.js';

/** GGUF metadata value types, as numbered by the spec. */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

export type GgufTypedArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;

/** An array value: numbers become typed arrays; strings, bools and nested arrays plain arrays. */
export interface GgufArray {
  readonly elementType: GgufValueType;
  readonly values: GgufTypedArray | string[] | boolean[] | GgufArray[];
}

/** 64-bit integers stay bigint; everything else maps to its natural JS type. */
export type GgufScalar = number | bigint | boolean | string;
export type GgufValue = GgufScalar | GgufArray;

export interface GgufMetadataEntry {
  readonly key: string;
  readonly type: GgufValueType;
  readonly value: GgufValue;
}

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml type id as stored in the file. */
  readonly typeId: number;
  /** undefined when the id is one ggml never assigned: the tensor is listed but cannot be used. */
  readonly type: GgmlTypeInfo | undefined;
  /** [ne0, ne1, ...] as in the file; ne0 is the row length (fastest moving). */
  readonly shape: readonly number[];
  readonly elements: number;
  /** Offset relative to the data section, as stored. */
  readonly relativeOffset: number;
  /** Absolute byte position in the file. */
  readonly offset: number;
  /** Bytes of tensor data; undefined when the type is unknown. */
  readonly nbytes: number | undefined;
  /** Only where the offset or the size is beyond 2^53 (a tensor past the end of a file opened with
   * keepTruncated): their exact values, `offset` and `nbytes` being approximate. */
  readonly exact?: { readonly offset: bigint; readonly nbytes?: bigint };
}

export interface GgufHeader {
  readonly version: number;
  readonly littleEndian: boolean;
  readonly alignment: number;
  /** Absolute start of the data section. */
  readonly dataOffset: number;
  readonly metadata: readonly GgufMetadataEntry[];
  readonly tensors: readonly GgufTensorInfo[];
  /** Only when parsed with keepTruncated: tensors whose data the file does not hold, and why. */
  readonly problems?: readonly { tensor: string; reason: string }[];
}
