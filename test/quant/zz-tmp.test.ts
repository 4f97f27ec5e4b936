import { it } from 'vitest';
import { decoderFor, dequantize, referenceMatmul, nmse } from '../../src/quant/index.js';
import { loadFixture, tensorBytes, tensorF32 } from './fixture-helper.js';
it('print', () => {
  const q = loadFixture('ggml-quants.gguf'); const r = loadFixture('ggml-quants.ref.gguf');
  for (const t of q.tensors.values()) {
    if (t.dims.length !== 2) continue;
    const dec = decoderFor(t.type)!;
    const W = dequantize(t.type, tensorBytes(q, t, t.nElements / dec.info.blockSize * dec.info.typeSize), t.nElements);
    const x = tensorF32(r, 'x.' + t.name.split('.').pop());
    const y = Float32Array.from(referenceMatmul(W, t.dims[1], t.dims[0], x, 8));
    const ref = tensorF32(r, 'y.' + t.name);
    let diff = 0; for (let i = 0; i < y.length; i++) if (y[i] !== ref[i]) diff++;
    console.log(t.name, nmse(y, ref), 'elements differing', diff, 'of', y.length);
  }
});
