// Float64 reference matmul and the NMSE used to judge GPU results against it.

/**
 * y[j*rows + r] = sum_k W[r*rowLen + k] * x[j*rowLen + k], for r < rows, j < batch, accumulated in
 * float64 in order k = 0, 1, ... (W and x are float32 values, so every product is exact).
 */
export function referenceMatmul(W: Float32Array, rows: number, rowLen: number, x: Float32Array, batch: number): Float64Array {
  if (W.length < rows * rowLen) throw new Error(`referenceMatmul: W holds ${W.length} values, need ${rows} x ${rowLen}`);
  if (x.length < batch * rowLen) throw new Error(`referenceMatmul: x holds ${x.length} values, need ${batch} x ${rowLen}`);
  const y = new Float64Array(rows * batch);
  // widen x once so the inner loop reads doubles
  const xd = new Float64Array(batch * rowLen);
  for (let i = 0; i < xd.length; i++) xd[i] = x[i];
  // Four columns per pass share each W load; every sum still runs over k in ascending order, so
  // the results are the same bits as one column at a time.
  for (let r = 0; r < rows; r++) {
    const w0 = r * rowLen;
    let j = 0;
    for (; j + 4 <= batch; j += 4) {
      const a = j * rowLen;
      const b = a + rowLen;
      const c = b + rowLen;
      const d = c + rowLen;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0; k < rowLen; k++) {
        const w = W[w0 + k];
        s0 += w * xd[a + k];
        s1 += w * xd[b + k];
        s2 += w * xd[c + k];
        s3 += w * xd[d + k];
      }
      y[j * rows + r] = s0;
      y[(j + 1) * rows + r] = s1;
      y[(j + 2) * rows + r] = s2;
      y[(j + 3) * rows + r] = s3;
    }
    for (; j < batch; j++) {
      const x0 = j * rowLen;
      let acc = 0;
      for (let k = 0; k < rowLen; k++) acc += W[w0 + k] * xd[x0 + k];
      y[j * rows + r] = acc;
    }
  }
  return y;
}

/**
 * Normalised mean squared error sum((y - ref)^2) / sum(ref^2). 0 when both are all-zero,
 * Infinity when ref is all-zero and y is not, NaN if any value is NaN.
 */
export function nmse(y: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (y.length !== ref.length) throw new Error(`nmse: lengths differ (${y.length} vs ${ref.length})`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < y.length; i++) {
    const a = y[i];
    const b = ref[i];
    if (a !== a || b !== b) return NaN;
    const e = a - b;
    num += e * e;
    den += b * b;
  }
  if (den === 0) return num === 0 ? 0 : Infinity;
  return num / den;
}
