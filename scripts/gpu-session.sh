#!/usr/bin/env bash
# Everything a GPU session needs, in one call on the GPU host (device time is scarce: batch it).
# Builds the kernels, runs the GPU tests, both sanitizers over the GPU test suite, and the benches,
# writing full logs to $OUT (or ./gpu-logs; at most 8 files: the device tool brings back 8; the
# build log stays in /tmp and is shown only if the build fails) and a short summary to stdout.
# SKIP_BUILD=1 uses a carried build/libgguf_gpu.so; SANITIZERS=0 stops before the sanitizers.
# PROFILE=1 adds Nsight Compute reports of the prefill GEMM and two decode kernels (Q4_0, 4096 x
# 14336) before the sanitizers, out of their share of BUDGET (~60-90 s).
# Here:   ../shared/gpu/pack
# There:  bash .gpu/run bash scripts/gpu-session.sh        (carry .gpu and dist)
set -uo pipefail
out="${OUT:-gpu-logs}"
mkdir -p "$out"
cli="node bin/gguf-gpu.js"
# One call may run 600 s: the sanitizers go last and share what is left of it.
step() { echo "== $1 (at ${SECONDS}s)"; }
left() { local l=$(( ${BUDGET:-570} - SECONDS )); (( l > 10 )) && echo $l || echo 10; }

# SKIP_BUILD=1 keeps a build/libgguf_gpu.so carried from the development machine (saves ~40 s).
if [ "${SKIP_BUILD:-0}" = 1 ] && [ -f build/libgguf_gpu.so ]; then
  step "build skipped (SKIP_BUILD=1: the carried build/libgguf_gpu.so)"
else
  step "build (sm_90)"
  npm run -s build:kernels:quick > /tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
fi

step "GPU tests"
timeout 300 npx vitest run --config vitest.gpu.config.ts > "$out/gputest.log" 2>&1
sed 's/\x1b\[[0-9;]*m//g' "$out/gputest.log" | grep -E "^ *(✓|×)|Tests |AssertionError" | head -60

step "bench (cold, then warm at n = 1)"
timeout 200 $cli bench --json --plot "$out/bench.svg" > "$out/bench.json" 2> /tmp/bench.err || tail -5 /tmp/bench.err
timeout 60 $cli bench --types q4_0,q4_K --batch 1 --cache warm --no-baselines > "$out/bench-warm.txt" 2>&1
node -e '
  const r = require(process.argv[1]);
  const u = r.upload;
  console.log(`copy ${r.peaks.copyGBps.toFixed(0)} GB/s, pinned upload ${r.peaks.uploadGBps.toFixed(1)} GB/s, file->GPU copy ${u.gbps.toFixed(1)} GB/s (${(100 * u.fractionOfPinned).toFixed(0)}% of pinned; allocation ${(1000 * u.allocSeconds).toFixed(1)} ms of ${(1000 * u.seconds).toFixed(1)})`);
  for (const b of r.peaks.blas) console.log(`cuBLAS ${b.dtype} n=${b.batch}: ${b.us.toFixed(1)} us ${b.tflops.toFixed(0)} TFLOP/s`);
  for (const d of r.peaks.dequant) console.log(`dequant ${d.type}->${d.dtype}: ${d.us.toFixed(1)} us ${(100 * d.fractionOfCopy).toFixed(0)}% of copy`);
  for (const x of r.results) console.log([x.type, x.batch, x.us.toFixed(2), x.floorUs.toFixed(2), (100 * x.fraction).toFixed(0) + "%", x.tflops.toFixed(1), x.nmse?.toExponential(1), x.kernel].join(" "));
' "$(realpath "$out/bench.json")"
grep "file -> GPU" "$out/bench-warm.txt"
tail -3 "$out/bench-warm.txt"

step "prefill A/B: the mma.sync GEMM (GG_MM_WG=0) against the dispatch table's, n = 512"
GG_MM_WG=0 timeout 60 $cli bench --batch 512 --no-baselines --json 2> /dev/null | node -e '
  let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", () => {
    for (const x of JSON.parse(t).results) console.log([x.type, x.batch, x.us.toFixed(2), x.tflops.toFixed(1), x.nmse?.toExponential(1), x.kernel].join(" "));
  });'

step "bench over a file"
timeout 60 $cli bench ../shared/fixtures/ggml-quants.gguf --cache warm > "$out/bench-file.txt" 2>&1
tail -12 "$out/bench-file.txt"

step "upload probe (fill threads x piece size)"
timeout 90 node scripts/upload-probe.js 2>&1 | tail -14

if [ "${PROFILE:-0}" = 1 ]; then
  step "Nsight Compute: k_prefill_wg (n = 512), k_decode_i8 (n = 1), k_decode (n = 16)"
  prof() { # kernel, batch, extra sections
    local k=$1 n=$2; shift 2
    echo "=== $k, Q4_0, n = $n"
    timeout 90 ncu --kernel-name "$k" --launch-skip 3 --launch-count 1 --section SpeedOfLight --section WarpStateStats \
      --section SchedulerStats --section MemoryWorkloadAnalysis --section Occupancy "$@" \
      $cli bench --types q4_0 --batch "$n" --no-baselines 2>&1 | grep -v "^==PROF==" | sed -n '/k_/,$p'
  }
  { prof k_prefill_wg 512 --section SourceCounters; prof k_decode_i8 1; prof k_decode 16; } > "$out/ncu.txt" 2>&1
  grep -E "^=== |Duration|Compute \(SM\) Throughput|Memory Throughput|Issued Warp Per Scheduler|No Eligible|Warp Cycles Per Issued|L2 Cache Throughput" "$out/ncu.txt" | head -40
fi

if [ "${SANITIZERS:-1}" = 0 ]; then step "done (SANITIZERS=0: no compute-sanitizer runs)"; exit 0; fi

# The sanitizers run the suite without its slowest test (the 1.1 GB stream), in every vitest worker.
not_slow='^(?!.*over 1 GiB)'
gpu_vitest="npx vitest run --config vitest.gpu.config.ts"
clean() { sed 's/\x1b\[[0-9;]*m//g' "$@"; }

# memcheck: the tests that make the runtime fail on purpose (out of memory, an invalid launch; their
# describe says so) would count as API errors, so the suite runs without them and they run beside it
# on their own with API errors not reported: their memory accesses are still checked.
on_purpose='provoking runtime errors on purpose'
step "compute-sanitizer memcheck over the GPU tests (and the deliberate faults beside them)"
t=$(( $(left) * 3 / 5 ))
timeout $t compute-sanitizer --tool memcheck --target-processes all \
  $gpu_vitest test/gpu/dequant.test.ts test/gpu/matmul.test.ts test/gpu/faults.test.ts test/gpu/upload.test.ts \
  -t "^(?!.*(over 1 GiB|$on_purpose))" > /tmp/memcheck-suite.log 2>&1 &
timeout $t compute-sanitizer --tool memcheck --report-api-errors no --target-processes all \
  $gpu_vitest test/gpu/faults.test.ts -t "$on_purpose" > /tmp/memcheck-faults.log 2>&1 &
wait
for part in suite faults; do
  echo "memcheck, $part:"
  clean /tmp/memcheck-$part.log | grep -E "ERROR SUMMARY|Tests " | sort | uniq -c
done
{ echo "=== memcheck: the suite without '$on_purpose'"; cat /tmp/memcheck-suite.log
  echo "=== memcheck: '$on_purpose' alone, --report-api-errors no"; cat /tmp/memcheck-faults.log; } > "$out/memcheck.log"

# racecheck: four processes at once over fewer batch sizes in the random-weights tests (still every
# kernel: see test/gpu/matmul.test.ts), the tests split between them: (a) the dequant tests, (b) the
# f16 tensor-core types, (c) the int8 decode kernels (batches 1, 5, 17: one launch, two launches of
# 4 columns, a remainder), (d) the generic types and the rest of matmul.test.ts (the forced prefill
# GEMMs at batch 65 only).
race_batches=1,9,40,65
race_b=' (Q4_0|Q8_0|Q4_K|Q6_K): random weights|tall matrices|chained products'
race_c='int8 decode kernels'
# RACE_D_SKIP (a regex of test names): leave tests out of part d, e.g. the generic types' random-weight
# tests (most of part d's ~275 s) when their kernels have not changed since their last clean run.
step "compute-sanitizer racecheck over the GPU tests (4 processes)"
t=$(left)
# Part a did not finish in ~375 s last time (dequant tests and generic matmul in one process,
# batches 40 and 65: the SIMT generic_gemm reads shared memory for every multiply-add and racecheck
# follows each access). Now the dequant tests (a) and the generic matmul tests (d, batches 1 and 9:
# 9 already reaches generic_gemm) run as separate processes, so a slow one cannot hide the other.
timeout $t compute-sanitizer --tool racecheck --target-processes all \
  $gpu_vitest test/gpu/dequant.test.ts -t "$not_slow" > /tmp/racecheck-a.log 2>&1 &
GGUF_GPU_TEST_BATCHES=1,9 GGUF_GPU_TEST_PREFILL_BATCHES=65 timeout $t compute-sanitizer --tool racecheck --target-processes all \
  $gpu_vitest test/gpu/matmul.test.ts -t "^(?!.*($race_b|$race_c${RACE_D_SKIP:+|$RACE_D_SKIP}))" > /tmp/racecheck-d.log 2>&1 &
GGUF_GPU_TEST_BATCHES=$race_batches timeout $t compute-sanitizer --tool racecheck --target-processes all \
  $gpu_vitest test/gpu/matmul.test.ts -t "$race_b" > /tmp/racecheck-b.log 2>&1 &
GGUF_GPU_TEST_I8_BATCHES=1,5,17 timeout $t compute-sanitizer --tool racecheck --target-processes all \
  $gpu_vitest test/gpu/matmul.test.ts -t "$race_c" > /tmp/racecheck-c.log 2>&1 &
wait
for part in a b c d; do
  echo "racecheck, part $part:"
  clean /tmp/racecheck-$part.log | grep -E "RACECHECK SUMMARY|Tests " | sort | uniq -c
done
{ echo "=== racecheck a: the dequant tests"; cat /tmp/racecheck-a.log
  echo "=== racecheck b: $race_b"; cat /tmp/racecheck-b.log
  echo "=== racecheck c: $race_c"; cat /tmp/racecheck-c.log
  echo "=== racecheck d: the rest of matmul.test.ts (generic types), batches 1,9"; cat /tmp/racecheck-d.log; } > "$out/racecheck.log"
step "done"
