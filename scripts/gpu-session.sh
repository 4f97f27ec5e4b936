#!/usr/bin/env bash
# Everything a GPU session needs, in one call on the GPU host (device time is scarce: batch it).
# Builds the kernels, runs the GPU tests, both sanitizers over the GPU test suite, and the benches,
# writing full logs to $OUT (or ./gpu-logs) and a short summary to stdout.
# Here:   ../shared/gpu/pack
# There:  bash .gpu/run bash scripts/gpu-session.sh        (carry .gpu and dist)
set -uo pipefail
out="${OUT:-gpu-logs}"
mkdir -p "$out"
cli="node bin/gguf-gpu.js"
# One call may run 600 s: the sanitizers go last and share what is left of it.
step() { echo "== $1 (at ${SECONDS}s)"; }
left() { local l=$(( ${BUDGET:-570} - SECONDS )); (( l > 10 )) && echo $l || echo 10; }

step "build (sm_90)"
npm run -s build:kernels:quick > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }

step "GPU tests"
timeout 300 npx vitest run --config vitest.gpu.config.ts > "$out/gputest.log" 2>&1
sed 's/\x1b\[[0-9;]*m//g' "$out/gputest.log" | grep -E "^ *(✓|×)|Tests |AssertionError" | head -60

step "bench (cold, then warm at n = 1)"
timeout 200 $cli bench --json --plot "$out/bench.svg" > "$out/bench.json" 2> /tmp/bench.err || tail -5 /tmp/bench.err
timeout 60 $cli bench --types q4_0,q4_K --batch 1 --cache warm --no-baselines > "$out/bench-warm.txt" 2>&1
node -e '
  const r = require(process.argv[1]);
  const u = r.upload;
  console.log(`copy ${r.peaks.copyGBps.toFixed(0)} GB/s, pinned upload ${r.peaks.uploadGBps.toFixed(1)} GB/s, file->GPU ${u.gbps.toFixed(1)} GB/s (${(100 * u.fractionOfPinned).toFixed(0)}%)`);
  for (const b of r.peaks.blas) console.log(`cuBLAS ${b.dtype} n=${b.batch}: ${b.us.toFixed(1)} us ${b.tflops.toFixed(0)} TFLOP/s`);
  for (const d of r.peaks.dequant) console.log(`dequant ${d.type}->${d.dtype}: ${d.us.toFixed(1)} us ${(100 * d.fractionOfCopy).toFixed(0)}% of copy`);
  for (const x of r.results) console.log([x.type, x.batch, x.us.toFixed(2), x.floorUs.toFixed(2), (100 * x.fraction).toFixed(0) + "%", x.tflops.toFixed(1), x.nmse?.toExponential(1), x.kernel].join(" "));
' "$(realpath "$out/bench.json")"
tail -3 "$out/bench-warm.txt"

step "bench over a file"
timeout 60 $cli bench ../shared/fixtures/ggml-quants.gguf --cache warm > "$out/bench-file.txt" 2>&1
tail -12 "$out/bench-file.txt"

# The sanitizers run the suite without its slowest test (the 1.1 GB stream), in every vitest worker.
not_slow='^(?!.*over 1 GiB)'
step "compute-sanitizer memcheck over the GPU tests"
timeout $(( $(left) * 3 / 5 )) compute-sanitizer --tool memcheck --target-processes all \
  npx vitest run --config vitest.gpu.config.ts test/gpu/dequant.test.ts test/gpu/matmul.test.ts test/gpu/faults.test.ts -t "$not_slow" \
  > "$out/memcheck.log" 2>&1
grep -E "ERROR SUMMARY|Tests " "$out/memcheck.log" | sed 's/\x1b\[[0-9;]*m//g' | sort | uniq -c
step "compute-sanitizer racecheck over the GPU tests"
timeout $(left) compute-sanitizer --tool racecheck --target-processes all \
  npx vitest run --config vitest.gpu.config.ts test/gpu/dequant.test.ts test/gpu/matmul.test.ts -t "$not_slow" \
  > "$out/racecheck.log" 2>&1
grep -E "RACECHECK SUMMARY|Tests " "$out/racecheck.log" | sed 's/\x1b\[[0-9;]*m//g' | sort | uniq -c
step "done"
