#!/usr/bin/env python3
"""Where a kernel's warps stall, from Nsight Compute's source page (run on the GPU host).

    ncu --kernel-name regex:k_prefill_wg --launch-skip 6 --launch-count 1 --section SourceCounters \
        -o /tmp/k node bin/gguf-gpu.js bench --types q4_0 --batch 512 --no-baselines
    ncu -i /tmp/k.ncu-rep --page source --csv --print-source sass > /tmp/k.csv
    python3 scripts/ncu-stalls.py /tmp/k.csv [TOP]

Prints the stall samples summed between markers (HGMMA, barriers, mbarrier ops, EXIT), so that the
prologue, each main-loop half and the epilogue show as regions, then the TOP (default 40) instructions
by samples with their stall reasons. The whole CSV is ~1 MB a kernel: too large to bring back as is.
"""
import csv
import sys

MARKERS = ("HGMMA", "BAR.SYNC", "WARPGROUP.DEPBAR", "EXIT", "SYNCS", "SETMAXNREG")


def main() -> None:
    rows = list(csv.reader(open(sys.argv[1])))
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    header, data = rows[1], rows[2:]
    col = {h: i for i, h in enumerate(header)}
    samples = lambda r: int(r[col["Warp Stall Sampling (All Samples)"]] or 0)
    total = sum(samples(r) for r in data) or 1
    print(f"{total} samples over {len(data)} instructions")
    start = 0
    for k, r in enumerate(data):
        if any(m in r[1] for m in MARKERS):
            s = sum(samples(x) for x in data[start:k + 1])
            if s:
                print(f"  [{start:5d}, {k:5d}] {s:6d} {100 * s / total:5.1f}%  ends at {r[1].strip()[:60]}")
            start = k + 1
    s = sum(samples(x) for x in data[start:])
    if s:
        print(f"  [{start:5d},   end] {s:6d} {100 * s / total:5.1f}%")
    reasons = [h for h in header if h.startswith("stall_") and "(Not" not in h]
    for r in sorted(data, key=lambda r: -samples(r))[:top]:
        why = " ".join(f"{h[6:]}={r[col[h]]}" for h in reasons if r[col[h]] not in ("0", ""))
        print(f"{samples(r):6d} {100 * samples(r) / total:5.1f}% {r[0][-5:]} {r[1].strip()[:64]:64s} {why}")


if __name__ == "__main__":
    main()
