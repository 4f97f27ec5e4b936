// Limits on untrusted header fields. Real files stay far below each one; a hostile file that
// claims more gets a LimitError naming the limit and the claim instead of a huge allocation.

/** ggml's GGML_MAX_DIMS: tensors have at most 4 dimensions. */
export const MAX_DIMS = 4;
/** Largest Llama-class files have a few thousand tensors; MoE files tens of thousands. */
export const MAX_TENSOR_COUNT = 1_000_000;
/** Real files carry a few dozen metadata keys. */
export const MAX_METADATA_COUNT = 1_000_000;
/**
 * The GGUF spec allows keys of 65535 bytes; real keys are under 100. Names and keys go into Sets to find
 * duplicates, and V8 hashes a string of 16384 characters or more by its length alone, so thousands of
 * long names would make that quadratic (minutes): both stay under that.
 */
export const MAX_KEY_LENGTH = 8_192;
/** Tensor names are at most 63 bytes in ggml (GGML_MAX_NAME = 64); generous headroom, under V8's
 * 16384-character hashing limit (see MAX_KEY_LENGTH). */
export const MAX_TENSOR_NAME_LENGTH = 8_192;
/** V8 cannot hold strings much over 512 MiB; no real metadata string comes close. */
export const MAX_STRING_LENGTH = 256 * 1024 * 1024;
/** Vocabularies reach ~300k tokens and their merges ~1M; 2^24 elements is already absurd (and 2^24
 * bools take seconds to read one by one). */
export const MAX_ARRAY_LENGTH = 1 << 24;
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
