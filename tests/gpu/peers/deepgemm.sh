#!/usr/bin/env bash
# tests/gpu/peers/deepgemm.sh - builds DeepGEMM (deepseek-ai/DeepGEMM) offline, as a peer for the
# GEMM benchmark (tests/gpu/gemm_bench.py --deepgemm-path).
#
#   tests/gpu/peers/deepgemm.sh BUILD_DIR
#       unpacks .peers/deepgemm.tar.gz into BUILD_DIR/deepgemm, builds its Python extension in place
#       (no downloads, all cores), links the CUTLASS headers where its runtime compiler looks for
#       them, imports it and runs one small GEMM, and prints the environment to use (LD_PRELOAD
#       included: see the NOTE below). Anything missing (the tarball,
#       torch, nvcc, a failed build or import) prints one line "SKIP deepgemm: <reason>" and exits 0,
#       so the rest of a GPU run goes on. Rebuilds only when the tarball changed.
#       The last line on success is "DEEPGEMM_PATH=<dir>" (the directory to put on sys.path).
#
#   tests/gpu/peers/deepgemm.sh --pack DEEPGEMM_GIT CUTLASS_GIT FMT_GIT
#       makes .peers/deepgemm.tar.gz from three bare git directories (DeepGEMM's newest commit,
#       and the CUTLASS and fmt commits its tree pins, or their newest when the pinned one is
#       missing): DeepGEMM's source without CI files, CUTLASS's include/ and fmt's include/ only,
#       with their licences. .peers/ is ignored by git: nothing fetched is committed.
#
# Environment: CUDA_HOME (else the nvcc on PATH, else /usr/local/cuda), PYTHON (python3),
# MAX_JOBS (nproc).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
TARBALL=${DEEPGEMM_TARBALL:-$ROOT/.peers/deepgemm.tar.gz}
PY=${PYTHON:-python3}

skip() { echo "SKIP deepgemm: $*"; exit 0; }

# ---- --pack: the tarball, from bare git directories ------------------------------------------
pack() {
  local dg=$1 cutlass=$2 fmt=$3 rev sub
  PACK_TMP=$(mktemp -d) || exit 1
  trap 'rm -rf "$PACK_TMP"' EXIT
  local tmp=$PACK_TMP
  local top=$tmp/deepgemm
  mkdir -p "$top"
  rev=$(git --git-dir="$dg" rev-parse HEAD) || exit 1
  git --git-dir="$dg" archive --format=tar "$rev" | tar -x -C "$top" || exit 1
  rm -rf "$top/.github"
  {
    echo "deepgemm $rev $(git --git-dir="$dg" log -1 --format=%cs "$rev")"
  } > "$top/PEER_SOURCES"
  for sub in cutlass fmt; do
    local gd=$cutlass pin want
    [ $sub = fmt ] && gd=$fmt
    pin=$(git --git-dir="$dg" ls-tree "$rev" "third-party/$sub" | awk '{print $3}')
    want=$pin
    if [ -z "$pin" ] || ! git --git-dir="$gd" cat-file -e "$pin^{commit}" 2>/dev/null; then
      want=$(git --git-dir="$gd" rev-parse HEAD)
      echo "note: $sub commit '$pin' pinned by DeepGEMM is not in $gd; using its newest, $want" >&2
    fi
    rm -rf "${top:?}/third-party/$sub"
    mkdir -p "$top/third-party/$sub"
    local lic
    lic=$(git --git-dir="$gd" ls-tree --name-only "$want" | grep -m1 -E '^LICEN[SC]E') || true
    # (a mirror may lack some large blobs outside include/: git names them on stderr, harmlessly)
    git --git-dir="$gd" archive --format=tar "$want" include ${lic:+"$lic"} 2> >(grep -v '^error: invalid object' >&2) |
      tar -x -C "$top/third-party/$sub" || exit 1
    [ "$(find "$top/third-party/$sub/include" -type f | wc -l)" = \
      "$(git --git-dir="$gd" ls-tree -r --name-only "$want" include | wc -l)" ] || { echo "incomplete $sub/include" >&2; exit 1; }
    echo "$sub $want pinned=${pin:-none}" >> "$top/PEER_SOURCES"
  done
  mkdir -p "$(dirname "$TARBALL")"
  tar -C "$tmp" --owner=0 --group=0 --numeric-owner --sort=name -cf - deepgemm | gzip -9 > "$TARBALL.tmp" || exit 1
  mv "$TARBALL.tmp" "$TARBALL"
  cat "$top/PEER_SOURCES"
  echo "wrote $TARBALL ($(du -h "$TARBALL" | cut -f1))"
}

if [ "${1:-}" = "--pack" ]; then
  [ $# -eq 4 ] || { echo "usage: $0 --pack DEEPGEMM_GIT CUTLASS_GIT FMT_GIT"; exit 2; }
  pack "$2" "$3" "$4"
  exit $?
fi

# ---- build -----------------------------------------------------------------------------------
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR | --pack DEEPGEMM_GIT CUTLASS_GIT FMT_GIT"; exit 2; }
mkdir -p "$1" || skip "cannot create $1"
BUILD=$(cd "$1" && pwd)
SRC=$BUILD/deepgemm
LOG=$BUILD/deepgemm-build.log

[ -f "$TARBALL" ] || skip "no $TARBALL (make it with $0 --pack on a machine with the sources)"
command -v "$PY" > /dev/null || skip "no $PY"
"$PY" -c "import torch, setuptools" 2> /dev/null || skip "$PY cannot import torch and setuptools"
TORCH_CUDA=$("$PY" -c "import torch; print(torch.version.cuda or '')" 2> /dev/null)
[ -n "$TORCH_CUDA" ] || skip "torch $("$PY" -c 'import torch; print(torch.__version__)') has no CUDA"
if [ -z "${CUDA_HOME:-}" ]; then
  if command -v nvcc > /dev/null; then CUDA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")
  else CUDA_HOME=/usr/local/cuda; fi
fi
[ -x "$CUDA_HOME/bin/nvcc" ] || skip "no nvcc under CUDA_HOME=$CUDA_HOME (DeepGEMM compiles its kernels at run time)"
# Its runtime runs CUDA_HOME/bin/nvcc (or DG_JIT_NVCC_COMPILER) and CUDA_HOME/bin/cuobjdump (to find each
# compiled kernel's name). A cuobjdump elsewhere on PATH gets a CUDA_HOME of links for the run time.
RT_CUDA_HOME=$CUDA_HOME
DG_NVCC=""
if [ ! -x "$CUDA_HOME/bin/cuobjdump" ]; then
  command -v cuobjdump > /dev/null || skip "no cuobjdump under CUDA_HOME=$CUDA_HOME nor on PATH (DeepGEMM's runtime needs it)"
  RT_CUDA_HOME=$BUILD/deepgemm-cuda-home
  mkdir -p "$RT_CUDA_HOME/bin"
  ln -sfn "$(command -v cuobjdump)" "$RT_CUDA_HOME/bin/cuobjdump"
  ln -sfn "$CUDA_HOME/include" "$RT_CUDA_HOME/include"
  DG_NVCC=$CUDA_HOME/bin/nvcc
fi
NVCC_VER=$("$CUDA_HOME/bin/nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')
[ "${NVCC_VER%%.*}" = "${TORCH_CUDA%%.*}" ] ||
  skip "nvcc $NVCC_VER and torch's CUDA $TORCH_CUDA differ in major version (two CUDA runtimes in one process)"
export CUDA_HOME
export MAX_JOBS=${MAX_JOBS:-$(nproc)}

STAMP=$SRC/.moekit-built
SUM=$(cksum < "$TARBALL" | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$SUM" ] && ls "$SRC"/deep_gemm/_C*.so > /dev/null 2>&1; then
  echo "deepgemm: already built from this tarball in $SRC"
else
  rm -rf "$SRC"
  tar -xzf "$TARBALL" -C "$BUILD" || skip "cannot unpack $TARBALL"
  [ -f "$SRC/setup.py" ] || skip "$TARBALL holds no deepgemm/setup.py"
  # The runtime compiler includes <cute/...> and <cutlass/...> from deep_gemm/include (as upstream's
  # develop.sh links them).
  for d in cute cutlass; do
    [ -d "$SRC/third-party/cutlass/include/$d" ] || skip "tarball lacks third-party/cutlass/include/$d"
    ln -sfn "../../third-party/cutlass/include/$d" "$SRC/deep_gemm/include/$d"
  done
  # setup.py imports wheel.bdist_wheel, which newer wheel releases drop (setuptools has the command)
  SHIMS=""
  if ! "$PY" -c "import wheel.bdist_wheel" 2> /dev/null; then
    SHIMS=$BUILD/deepgemm-build-shims
    mkdir -p "$SHIMS/wheel"
    : > "$SHIMS/wheel/__init__.py"
    cat > "$SHIMS/wheel/bdist_wheel.py" <<'PYEOF'
try:
    from setuptools.command.bdist_wheel import bdist_wheel  # noqa: F401
except Exception:  # needs the real wheel package: a stand-in base class (no wheel is built here)
    from setuptools import Command

    class bdist_wheel(Command):
        user_options = []

        def initialize_options(self):
            pass

        def finalize_options(self):
            pass

        def run(self):
            raise RuntimeError("bdist_wheel is not available in this build")
PYEOF
  fi
  echo "deepgemm: building the extension (nvcc $NVCC_VER, torch CUDA $TORCH_CUDA, $MAX_JOBS jobs); log $LOG"
  t0=$(date +%s)
  # DG_USE_LOCAL_VERSION=0: no git queries for a version suffix (there is no .git here).
  # The rpath lets the extension find libnvrtc/libcudart of this CUDA without LD_LIBRARY_PATH.
  if ! (cd "$SRC" && DG_USE_LOCAL_VERSION=0 LDFLAGS="${LDFLAGS:-} -Wl,-rpath,$CUDA_HOME/lib64" \
        PYTHONPATH="${SHIMS:+$SHIMS:}${PYTHONPATH:-}" "$PY" setup.py build_ext --inplace -j "$MAX_JOBS") > "$LOG" 2>&1; then
    grep -m3 -E ' error: |^[A-Za-z.]*Error: ' "$LOG" | sed 's/^/  /' >&2
    skip "build failed after $(( $(date +%s) - t0 )) s (log: $LOG)"
  fi
  ls "$SRC"/deep_gemm/_C*.so > /dev/null 2>&1 || skip "build left no deep_gemm/_C*.so (log: $LOG)"
  echo "$SUM" > "$STAMP"
  echo "deepgemm: built in $(( $(date +%s) - t0 )) s"
fi

export DG_JIT_CACHE_DIR=${DG_JIT_CACHE_DIR:-$BUILD/deepgemm-jit-cache}
# NOTE: with torch 2.11 loaded first, DeepGEMM's first JIT call died in std::regex (its include
# parser) on a locale facet of the wrong type: the extension's libstdc++ references bound to a copy
# that another library of the process provides. Preloading the libstdc++ of the compiler that built
# the extension puts it first in the lookup order; the smoke call below proves it.
PRELOAD=$(readlink -f "$(${CXX:-g++} -print-file-name=libstdc++.so.6 2> /dev/null)" 2> /dev/null)
[ -f "$PRELOAD" ] || PRELOAD=""
if ! out=$(cd "$BUILD" && env ${PRELOAD:+LD_PRELOAD="$PRELOAD"} CUDA_HOME="$RT_CUDA_HOME" \
      ${DG_NVCC:+DG_JIT_NVCC_COMPILER="$DG_NVCC"} PYTHONPATH="$SRC${PYTHONPATH:+:$PYTHONPATH}" "$PY" -c "
import torch, deep_gemm as d
from deep_gemm.utils.math import per_token_cast_to_fp8, per_block_cast_to_fp8
print('deepgemm: import ok,', d.__version__, d.__file__)
x, w = torch.randn(256, 512, device='cuda'), torch.randn(256, 512, device='cuda')
out = torch.empty(256, 256, device='cuda', dtype=torch.bfloat16)
d.fp8_gemm_nt(per_token_cast_to_fp8(x, use_ue8m0=False), per_block_cast_to_fp8(w, use_ue8m0=False), out,
              disable_ue8m0_cast=True)
err = ((out.float() - x @ w.t()).norm() / (x @ w.t()).norm()).item()
print(f'deepgemm: smoke call ok, relative error {err:.1e}')
assert err < 0.05
" 2>&1); then
  echo "$out" | tail -5 | sed 's/^/  /' >&2
  skip "import deep_gemm or its smoke call failed"
fi
echo "$out" | tail -2
[ -f "$SRC/PEER_SOURCES" ] && sed 's/^/deepgemm source: /' "$SRC/PEER_SOURCES"
echo "# environment for DeepGEMM:"
echo "export CUDA_HOME=$RT_CUDA_HOME"
[ -n "$DG_NVCC" ] && echo "export DG_JIT_NVCC_COMPILER=$DG_NVCC"
echo "export DG_JIT_CACHE_DIR=$DG_JIT_CACHE_DIR"
[ -n "$PRELOAD" ] && echo "export LD_PRELOAD=$PRELOAD"
echo "export PYTHONPATH=$SRC\${PYTHONPATH:+:\$PYTHONPATH}"
echo "DEEPGEMM_PATH=$SRC"
