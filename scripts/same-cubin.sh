#!/usr/bin/env bash
# Whether a kernel change is a pure refactor: compiles each kernels/*.cu to a cubin at REV and in the
# working tree, and compares them byte for byte. Identical cubins run identically, so a cleanup that
# passes needs no GPU run to prove it changed nothing; one that differs needs the GPU suite (and an
# A/B where speed could move). Needs nvcc only, no GPU.
#
#   bash scripts/same-cubin.sh [REV] [ARCH ...]    REV default HEAD; ARCH default 90a (the full build's: 80 86 89 90a)
# Exit 0: all identical; 1: some differ; 2: a bad REV or no nvcc.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rev=${1:-HEAD}
shift || true
git -C "$root" rev-parse --verify --quiet "$rev^{commit}" > /dev/null || { echo "same-cubin: '$rev' is not a commit (the first argument is REV)" >&2; exit 2; }
archs=("$@")
[ ${#archs[@]} -eq 0 ] && archs=(90a)
nvcc="${NVCC:-nvcc}"
command -v "$nvcc" > /dev/null || { echo "same-cubin: $nvcc not found" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Both sides compile from the same path: nvcc names anonymous namespaces after the source's path, so
# the same code at two paths gives two cubins.
build() { # $1: a kernels folder to copy in; $2: where the cubins go
  rm -rf "$work/src" && mkdir -p "$work/src" "$2" && cp -r "$1" "$work/src/kernels"
  for src in "$work"/src/kernels/*.cu; do
    for a in "${archs[@]}"; do
      "$nvcc" -O3 -std=c++17 -Xcompiler -fPIC "-gencode=arch=compute_$a,code=sm_$a" -cubin \
        -o "$2/$(basename "$src" .cu).sm_$a.cubin" "$src"
    done
  done
}
mkdir -p "$work/rev"
git -C "$root" archive "$rev" kernels | tar -x -C "$work/rev"
build "$work/rev/kernels" "$work/old"
build "$root/kernels" "$work/new"
differ=0
for f in "$work"/new/*.cubin; do
  b=$(basename "$f" .cubin)
  if [ ! -f "$work/old/$b.cubin" ]; then
    echo "$b: new in the working tree"; differ=1
  elif cmp -s "$work/old/$b.cubin" "$f"; then
    echo "$b: identical"
  else
    echo "$b: DIFFERENT ($(stat -c %s "$work/old/$b.cubin") and $(stat -c %s "$f") bytes, $(cmp -l "$work/old/$b.cubin" "$f" 2> /dev/null | wc -l) differing)"; differ=1
  fi
done
for f in "$work"/old/*.cubin; do [ -f "$work/new/$(basename "$f")" ] || { echo "$(basename "$f" .cubin): gone from the working tree"; differ=1; }; done
exit $differ
