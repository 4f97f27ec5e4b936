/**
 * Decodes nBlocks consecutive raw ggml blocks, starting at src[0], into dst[0 .. nBlocks*blockSize).
 * src may start at any byteOffset; dst must hold at least nBlocks*blockSize values. Decoders keep
 * no state between calls, so any chunk of a tensor can be decoded on its own.
 */
export type BlockDecoder = (src: Uint8Array, dst: Float32Array, nBlocks: number) => void;
