#!/usr/bin/env bash
# Builds the GPU kernel library from every kernels/*.cu file.
#
#   bash scripts/build-kernels.sh            CUDA: sm_80 sm_86 sm_89 sm_90a + compute_90 PTX -> build/libgguf_gpu.so
#   bash scripts/build-kernels.sh --quick    CUDA: sm_90a only (development)
#   bash scripts/build-kernels.sh --hip      HIP (AMD): gfx90a gfx1030 -> build/libgguf_gpu_hip.so
#   add --check                              warnings are errors; print register/spill use per kernel
#
# Environment: NVCC (default nvcc), HIPCC (default hipcc), CUDA_ARCHS (e.g. "80 90") and
# HIP_ARCHS (e.g. "gfx90a gfx942") override the target lists; JOBS sets parallel compiles.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode=cuda
quick=0
check=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --hip) mode=hip ;;
    --check) check=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "build-kernels: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

shopt -s nullglob
sources=("$root"/kernels/*.cu)
if [ ${#sources[@]} -eq 0 ]; then
  echo "build-kernels: no kernels/*.cu files found" >&2
  exit 1
fi

mkdir -p "$root/build"
njobs="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

if [ "$mode" = cuda ]; then
  nvcc="${NVCC:-nvcc}"
  command -v "$nvcc" >/dev/null 2>&1 || { echo "build-kernels: $nvcc not found (install the CUDA toolkit or set NVCC)" >&2; exit 1; }
  out="$root/build/libgguf_gpu.so"
  objdir="$root/build/obj-cuda"
  if [ -n "${CUDA_ARCHS:-}" ]; then
    archs=($CUDA_ARCHS)
  elif [ $quick = 1 ]; then
    archs=(90a)
  else
    archs=(80 86 89 90a)
  fi
  gencode=()
  for a in "${archs[@]}"; do gencode+=("-gencode=arch=compute_$a,code=sm_$a"); done
  if [ $quick = 0 ] && [ -z "${CUDA_ARCHS:-}" ]; then gencode+=("-gencode=arch=compute_90,code=compute_90"); fi
  flags=(-O3 -std=c++17 --threads 0 -Xcompiler -fPIC -Xcompiler -fvisibility=hidden -Xcompiler -Wall,-Wextra
         -Xptxas -warn-spills,-warn-lmem-usage "${gencode[@]}")
  [ $check = 1 ] && flags+=(-Werror all-warnings -Xptxas -v)
  compile() { "$nvcc" "${flags[@]}" -c "$1" -o "$2"; }
  link() { "$nvcc" -shared "${gencode[@]}" -o "$out" "$@" -ldl; }
  what="CUDA (${archs[*]})"
else
  hipcc="${HIPCC:-hipcc}"
  command -v "$hipcc" >/dev/null 2>&1 || { echo "build-kernels: $hipcc not found (install HIP or set HIPCC)" >&2; exit 1; }
  export HIP_PLATFORM=amd
  out="$root/build/libgguf_gpu_hip.so"
  objdir="$root/build/obj-hip"
  if [ -n "${HIP_ARCHS:-}" ]; then archs=($HIP_ARCHS); else archs=(gfx90a gfx1030); fi
  offload=()
  for a in "${archs[@]}"; do offload+=("--offload-arch=$a"); done
  flags=(-O3 -std=c++17 -fPIC -fvisibility=hidden -ffp-contract=off -Wall -Wextra "${offload[@]}")
  [ $check = 1 ] && flags+=(-Werror)
  compile() { "$hipcc" "${flags[@]}" -x hip -c "$1" -o "$2"; }
  link() { "$hipcc" -shared -fPIC "${offload[@]}" -o "$out" "$@"; }
  what="HIP (${archs[*]})"
fi

rm -rf "$objdir"
mkdir -p "$objdir"
echo "build-kernels: $what, ${#sources[@]} source file(s) -> ${out#$root/}"

# compile in parallel, then report every failure
pids=()
objs=()
logs=()
for src in "${sources[@]}"; do
  name="$(basename "$src" .cu)"
  obj="$objdir/$name.o"
  log="$objdir/$name.log"
  objs+=("$obj")
  logs+=("$log")
  ( compile "$src" "$obj" >"$log" 2>&1 ) &
  pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge "$njobs" ]; do sleep 0.2; done
done
failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    failed=1
    echo "build-kernels: FAILED to compile ${sources[$i]#$root/}:" >&2
    cat "${logs[$i]}" >&2
  elif [ -s "${logs[$i]}" ]; then
    cat "${logs[$i]}" >&2
  fi
done
if [ $failed = 1 ]; then
  echo "build-kernels: compilation failed; no library was written" >&2
  exit 1
fi

rm -f "$out"
if ! link "${objs[@]}"; then
  echo "build-kernels: linking ${out#$root/} failed" >&2
  exit 1
fi
echo "build-kernels: wrote ${out#$root/} ($(du -h "$out" | cut -f1))"
