#!/usr/bin/env bash
# tests/gpu/gemm_ab.sh - A/B of GEMM compile-time switches on one GPU, in one run.
#
#   tests/gpu/gemm_ab.sh [--manifest M] [--match TEXT] [--check NAME] NAME:FLAGS [NAME:FLAGS ...]
#
# Builds the manifest's library once per variant (build-ab-NAME, all cores) with FLAGS added to the
# nvcc command line ('+' stands for a space: "u8:-DMK_SM90_GEMM_KLOOP_UNROLL=8+-lineinfo"; an empty
# FLAGS is the baseline), runs gemm_check.py on the --check variant (default: the first), then
# gemm_bench.py --sweep on every variant in turn, so every configuration of each shape is timed on
# the same machine minutes apart. Default manifest tests/gpu/manifests/deepseek-tune.toml, default
# shapes "dense 4096 x,contiguous 4x8192". Tables go to $OUT (or /tmp)/ab-NAME.md; the last lines
# printed are each variant's sweep, fastest configuration first.
# Switches the sm90 GEMM reads: MK_SM90_GEMM_PIPELINE, MK_SM90_GEMM_PIPE_GROUP,
# MK_SM90_GEMM_KLOOP_UNROLL, MK_SM90_GEMM_GROUP_UNROLL, MK_SM90_GEMM_SCALE_FIRST
# (kernels/gemm/sm90_fp8_gemm_{cfg,mainloop}.cuh).
set -uo pipefail
cd "$(dirname "$0")/../.."
M=tests/gpu/manifests/deepseek-tune.toml MATCH="dense 4096 x,contiguous 4x8192" CHECK=""
while [ $# -gt 0 ]; do
  case "$1" in
    --manifest) M=$2; shift 2 ;;
    --match) MATCH=$2; shift 2 ;;
    --check) CHECK=$2; shift 2 ;;
    -*) echo "usage: $0 [--manifest M] [--match TEXT] [--check NAME] NAME:FLAGS ..."; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "usage: $0 [--manifest M] [--match TEXT] [--check NAME] NAME:FLAGS ..."; exit 2; }
D=${OUT:-/tmp}
names=()
for v in "$@"; do
  name=${v%%:*} flags=${v#*:}
  flags=${flags//+/ }
  [ "$name" != "$v" ] || { echo "variant '$v': expected NAME:FLAGS"; exit 2; }
  ./configure --manifest "$M" --arch sm_90a --builddir "build-ab-$name" > /dev/null || exit 1
  # NOTE: flags go into the generated build.ninja, so ninja rebuilds whatever they change
  sed -i "s|^nvccflags = |nvccflags = $flags |" "build-ab-$name/build.ninja"
  t0=$(date +%s)
  ninja -C "build-ab-$name" -j "$(nproc)" > "$D/ab-build-$name.log" 2>&1 || { tail -20 "$D/ab-build-$name.log"; exit 1; }
  echo "built $name ($flags) in $(( $(date +%s) - t0 )) s"
  names+=("$name")
done
CHECK=${CHECK:-${names[0]}}
python3 tests/gpu/gemm_check.py --builddir "build-ab-$CHECK" > "$D/ab-check.txt" 2>&1
echo "gemm_check on $CHECK: exit $?, $(tail -1 "$D/ab-check.txt")"
for name in "${names[@]}"; do
  python3 tests/gpu/gemm_bench.py --builddir "build-ab-$name" --match "$MATCH" --sweep --iters 10 \
    --out "$D/ab-$name.md" > /dev/null 2>&1 || echo "bench $name failed"
done
for name in "${names[@]}"; do
  echo "== $name"
  sed -n "/^## GPU state/,/^## Every/p" "$D/ab-$name.md" | grep "^- " | cut -c1-200
  sed -n "/^## Every configuration/,\$p" "$D/ab-$name.md" | grep "^- " | sed -e 's/gemm_fp8b128_//g' -e 's/_sm90a_bf16out_/ /g' -e 's/_swapab0//g' | cut -c1-300
done
