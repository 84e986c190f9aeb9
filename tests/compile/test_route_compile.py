"""The routing headers compile for every arch, and the machine code shows what
the design relies on:

  sm_90a, sm_100a (nvcc)   no local memory (register arrays stay in registers),
                           REDUX (warp max in one instruction), ATOMS.OR (bitmap
                           ranks), ATOMG/RED on the ticket only in fused kernels
  gfx942, gfx950 (clang-22, device only)
                           no scratch, ds_bpermute (wave shuffles), ds_or (ranks),
                           a global atomic add (the fused ticket)

Shapes cover the edges: 1 expert, odd expert counts, 1024 experts, top-32,
grouped with rows of 1024 experts (256 threads).
"""

import glob
import re
import shutil
from pathlib import Path

SHAPES = [(3, 256, 8), (1, 60, 6), (2, 1024, 32), (1, 1, 1), (3, 160, 6), (3, 1024, 8)]
DTYPES = ("MK_DTYPE_BF16", "MK_DTYPE_F16", "MK_DTYPE_F32")
TOP_KS = sorted({k for _, _, k in SHAPES})
# fused + topk per shape and dtype; count + scan + scatter per top_k
NUM_KERNELS = len(SHAPES) * 2 * len(DTYPES) + 3 * len(TOP_KS)


def _nv_source():
    lines = ['#include "moekit/kernels/route/launch.cuh"']
    for i, (kind, e, k) in enumerate(SHAPES):
        lines.append(f'extern "C" int launch_{i}(const void *p, void *s) {{ '
                     f'return mk::route::launch_route<{kind}, {e}, {k}>((const mk__route_params *)p, s); }}')
    return "\n".join(lines) + "\n"


def _amd_source():
    lines = ["#define MK_NO_LAUNCHERS 1", '#include "moekit/kernels/route/launch.cuh"']
    for kind, e, k in SHAPES:
        for dt in DTYPES:
            lines.append(f"template MK_KERNEL void mk::route::fused_kernel<{kind}, {e}, {k}, {dt}>(const mk__route_params);")
            lines.append(f"template MK_KERNEL void mk::route::topk_kernel<{kind}, {e}, {k}, {dt}>(const mk__route_params);")
    for k in TOP_KS:
        lines.append(f"template MK_KERNEL void mk::route::count_kernel<{k}>(const mk__route_params);")
        lines.append(f"template MK_KERNEL void mk::route::scan_kernel<{k}>(const mk__route_params);")
        lines.append(f"template MK_KERNEL void mk::route::scatter_kernel<{k}>(const mk__route_params);")
    return "\n".join(lines) + "\n"


def _cuobjdump(ctx):
    nvcc = ctx.tool("nvcc")
    cands = [str(Path(nvcc).parent / "cuobjdump")] if nvcc else []
    cands += [shutil.which("cuobjdump") or ""]
    cands += sorted(glob.glob("/usr/local/cuda*/bin/cuobjdump"))
    try:
        import nvidia  # the pip CUDA wheels ship cuobjdump
        for base in nvidia.__path__:
            cands += sorted(glob.glob(f"{base}/cu*/bin/cuobjdump"))
    except ImportError:
        pass
    for c in cands:
        if c and Path(c).is_file():
            return c
    raise AssertionError("cuobjdump not found (next to nvcc, on PATH, or in the nvidia pip wheels)")


def _nvcc_check(ctx, arch):
    nvcc = ctx.tool("nvcc") or shutil.which("nvcc")
    assert nvcc, "nvcc not found: configure with an sm_ arch, or put nvcc on PATH"
    d = ctx.mkdtemp(f"route_{arch}")
    (d / "route.cu").write_text(_nv_source())
    ctx.run([nvcc, "-std=c++17", "-O3", f"-I{ctx.srcdir}/include", f"-gencode=arch=compute_{arch[3:]},code={arch}",
             "-Xptxas", "-warn-spills", "-c", d / "route.cu", "-o", d / "route.o"])
    tool = _cuobjdump(ctx)
    res = ctx.run([tool, "-res-usage", d / "route.o"]).stdout
    sass = ctx.run([tool, "-sass", d / "route.o"]).stdout
    kernels = re.findall(r"Function (\S+):", res)
    got = sum("route" in k for k in kernels)
    assert got == NUM_KERNELS, f"expected {NUM_KERNELS} route kernels, got {got}"
    local = re.findall(r"Function (\S+):\s*\n\s*REG:\d+ STACK:(\d+) SHARED:\d+ LOCAL:(\d+)", res)
    assert local, f"cannot parse cuobjdump -res-usage:\n{res[:2000]}"
    spill = [k for k, stack, loc in local if int(stack) or int(loc)]
    assert not spill, f"route kernels use local memory (stack/spills): {spill}"
    assert not re.search(r"\b(LDL|STL)\b", sass), "SASS has local loads/stores"
    for insn in ("REDUX", "ATOMS.OR"):
        assert insn in sass, f"SASS lacks {insn}"
    # the ticket: a global atomic in the fused kernels only
    for fn in re.split(r"\n\s*Function : ", sass)[1:]:
        name = fn.split("\n", 1)[0]
        has_atomic = bool(re.search(r"\b(ATOMG|RED)\.", fn))
        if "fused_kernel" in name:
            assert has_atomic, f"{name}: no global atomic (the ticket)"
        else:
            assert not has_atomic, f"{name}: unexpected global atomic"


def _hip_check(ctx, arch):
    clang = ctx.tool("hip-clang") or shutil.which("clang-22")
    assert clang, "clang-22 not found (apt-get install clang-22)"
    d = ctx.mkdtemp(f"route_{arch}")
    (d / "route.hip").write_text(_amd_source())
    ctx.run([clang, "-x", "hip", f"--offload-arch={arch}", "--cuda-device-only", "-nogpulib", "-nogpuinc", "-O3",
             "-std=c++17", "-D__AMDGCN_WAVEFRONT_SIZE=64", f"-I{ctx.srcdir}/include", "-S", d / "route.hip",
             "-o", d / "route.s"])
    isa = (d / "route.s").read_text()
    names = re.findall(r"\.name:\s+(\S*route\S*)", isa)
    assert len(names) == NUM_KERNELS, f"expected {NUM_KERNELS} route kernels, got {len(names)}"
    scratch = re.findall(r"\.private_segment_fixed_size:\s+(\d+)", isa)
    assert scratch and all(s == "0" for s in scratch), f"scratch (private) memory in use: {scratch}"
    for insn in ("ds_bpermute_b32", "ds_or_b32", "global_atomic_add"):
        assert insn in isa, f"ISA lacks {insn}"


def test_route_compile_sm90a(ctx):
    _nvcc_check(ctx, "sm_90a")


def test_route_compile_sm100a(ctx):
    _nvcc_check(ctx, "sm_100a")


def test_route_compile_gfx942(ctx):
    _hip_check(ctx, "gfx942")


def test_route_compile_gfx950(ctx):
    _hip_check(ctx, "gfx950")
