// Limits on untrusted header fields. Real files stay far below each one; a hostile file that
// claims more gets a LimitError naming the limit and the claim instead of a huge allocation.

/** ggml's GGML_MAX_DIMS: tensors have at most 4 dimensions. */
export const MAX_DIMS = 4;
/** Largest Llama-class files have a few thousand tensors; MoE files tens of thousands. */
export const MAX_TENSOR_COUNT = 1_000_000;
/** Real files carry a few dozen metadata keys. */
export const MAX_METADATA_COUNT = 1_000_000;
/** The GGUF spec caps keys at 65535 bytes. */
export const MAX_KEY_LENGTH = 65_535;
/** Tensor names are at most 63 bytes in ggml (GGML_MAX_NAME = 64); allow generous headroom. */
export const MAX_TENSOR_NAME_LENGTH = 65_535;
/** V8 cannot hold strings much over 512 MiB; no real metadata string comes close. */
export const MAX_STRING_LENGTH = 256 * 1024 * 1024;
/** Vocabularies reach ~300k tokens and merges; an array of 2^26 elements is already absurd. */
export const MAX_ARRAY_LENGTH = 1 << 26;
/** Arrays of arrays exist; deeper nesting is only ever seen in attacks on recursive parsers. */
export const MAX_ARRAY_DEPTH = 8;
/** Elements of one tensor: ggml uses int64 counts; we need exact doubles for offsets. */
export const MAX_TENSOR_ELEMENTS = 2 ** 53 - 1;
/**
 * What the parsed header may cost in memory, estimated per value as it is read (HEADER_COSTS in
 * parse.ts). The file's size bounds nothing when it is sparse: a 768 MB file of holes can claim 2^26
 * nested arrays, gigabytes of JS objects. Real headers (a 262k-token vocabulary and its merges) cost
 * well under 100 MiB.
 */
export const MAX_HEADER_MEMORY = 1024 * 1024 * 1024;
