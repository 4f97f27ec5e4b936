#!/usr/bin/env bash
# A/B runs of `gguf-gpu bench` in one GPU-host call: variants run interleaved, REPEATS rounds, and a
# table per (type, batch) gives each variant's median time, its fraction of the floor and the kernel.
#
#   bash scripts/ab.sh TYPES BATCHES REPEATS 'LABEL: [ENV=VALUE ...] [bench options ...]' ...
#
# A variant is a label, a colon, then environment assignments (NAME=VALUE) and/or bench options.
# Examples (on the GPU host: bash .gpu/run bash scripts/ab.sh ...):
#   scripts/ab.sh q4_0,q4_K 5,8 2 'table:' 'imma:--kernel imma_decode_n8'
#   scripts/ab.sh q4_0 512 2 'main:' 'branch:GGUF_GPU_LIB=/tmp/ab/branch.so'
#   scripts/ab.sh q8_0 1 3 's8:GG_MM_SLICES=8' 's12:GG_MM_SLICES=12'
#   AB_DEQUANT=1 scripts/ab.sh q4_0,q6_K 1 2 'main:GGUF_GPU_LIB=/tmp/main.so' 'new:'   (dequant rows too)
set -uo pipefail
set -f # variants are split on spaces, never globbed
if [ $# -lt 4 ]; then sed -n '2,14p' "$0"; exit 2; fi
types=$1 batches=$2 repeats=$3; shift 3
# AB_DEQUANT=1 keeps bench's baselines and dequantization timing on, and tabulates dequant rows too
baselines=--no-baselines
[ "${AB_DEQUANT:-0}" = 1 ] && baselines=
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
for ((r = 1; r <= repeats; r++)); do
  for v in "$@"; do
    label=${v%%:*}
    envs=() args=()
    for tok in ${v#*:}; do
      if [[ $tok =~ ^[A-Z_][A-Z0-9_]*= ]]; then envs+=("$tok"); else args+=("$tok"); fi
    done
    env "${envs[@]}" timeout 120 node bin/gguf-gpu.js bench --backend gpu --types "$types" --batch "$batches" $baselines --json "${args[@]}" 2> /dev/null |
      node -e '
        let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", () => {
          let r;
          try { r = JSON.parse(t); } catch { r = undefined; }
          if (!Array.isArray(r?.results)) { console.log(JSON.stringify({ label: process.argv[1], failed: true })); return; }
          for (const x of r.results)
            console.log(JSON.stringify({ label: process.argv[1], type: x.type, batch: x.batch, us: x.us, floorUs: x.floorUs, kernel: x.kernel, nmse: x.nmse }));
          for (const d of r.peaks?.dequant ?? []) // with AB_DEQUANT=1: "of floor" = fraction of the copy rate
            console.log(JSON.stringify({ label: process.argv[1], type: `dequant ${d.type}`, batch: d.dtype, us: d.us, floorUs: d.us * d.fractionOfCopy, kernel: "-" }));
        });' "$label" >> "$rows"
  done
done
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
  for (const f of lines.filter((l) => l.failed)) console.log(`${f.label}: a run failed (run it alone to see why)`);
  const ok = lines.filter((l) => !l.failed);
  const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor((s.length - 1) / 2)]; };
  const keys = [...new Set(ok.map((l) => `${l.type} n=${l.batch}`))];
  console.log(["case", "variant", "us (median)", "runs", "of floor", "kernel", "worst NMSE"].join("\t"));
  for (const k of keys) {
    for (const label of [...new Set(ok.map((l) => l.label))]) {
      const m = ok.filter((l) => `${l.type} n=${l.batch}` === k && l.label === label);
      if (!m.length) continue;
      const us = median(m.map((l) => l.us)), floor = median(m.map((l) => l.floorUs));
      console.log([k, label, us.toFixed(2), m.map((l) => l.us.toFixed(2)).join(" "), `${Math.round((100 * floor) / us)}%`, m[0].kernel, Math.max(...m.map((l) => l.nmse ?? 0)).toExponential(1)].join("\t"));
    }
  }' "$rows"
