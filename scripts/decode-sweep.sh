#!/usr/bin/env bash
# Decode tuning sweep in one GPU-host call (about 90 s): split-K slices x int8 on/off, via the
# library's experiment knobs (kernels/matmul.cu: GG_MM_SLICES, GG_MM_I8), cold and warm n = 1.
#   bash .gpu/run bash scripts/decode-sweep.sh          (after npm run build:kernels:quick)
set -uo pipefail
bench="node bin/gguf-gpu.js bench --types q4_0,q4_K,q8_0 --no-baselines"
for i8 in 1 0; do
  for s in 0 6 8 12 16; do
    label="GG_MM_I8=$i8 GG_MM_SLICES=$s"; [ "$s" = 0 ] && label="GG_MM_I8=$i8 (default slices)"
    echo "== $label"
    env GG_MM_I8=$i8 GG_MM_SLICES=$s timeout 60 $bench --batch 1,4,8 2>&1 | grep -E "^Q" || echo "(failed)"
  done
done
echo "== warm n = 1 (default knobs)"
timeout 60 $bench --batch 1 --cache warm 2>&1 | grep -E "^Q"
