"""The FP8 GEMM instances of the build, at the SASS level.

For every GEMM instance the build produced (build/obj/<name>.o):
  - cuobjdump -sass shows QGMMA (FP8 wgmma), UTMALDG (TMA loads) and UTMASTG
    (the TMA-store epilogue), and USETMAXREG (the warpgroups' register split:
    ptxas silently drops setmaxnreg without launch bounds);
  - cuobjdump -res-usage reports no stack and no local memory;
  - recompiling the instance with -Xptxas -v reports 0 bytes of spill stores
    and no "wgmma serialized" performance warning.
cuobjdump comes with the CUDA toolkit or from PyPI (pip install
nvidia-cuda-cuobjdump); the test fails, naming both, when neither is there.
"""

import concurrent.futures as cf
import glob
import os
import re
import shutil
import sys
from pathlib import Path


def find_cuobjdump(ctx):
    nvcc = ctx.tool("nvcc")
    candidates = [shutil.which("cuobjdump")]
    if nvcc:
        candidates.append(str(Path(nvcc).resolve().parent / "cuobjdump"))
    for p in sys.path:  # PyPI wheels: nvidia/cu13/bin, nvidia/cuda_cuobjdump/bin
        candidates += glob.glob(os.path.join(p, "nvidia", "*", "bin", "cuobjdump"))
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise AssertionError("cuobjdump not found: install the CUDA toolkit's, or pip install nvidia-cuda-cuobjdump")


def _gemm_instances(ctx):
    return [i for i in ctx.config["instances"] if i["family"] == "gemm" and i["arch"] == "sm_90a"]


def _check_one(ctx, cuobjdump, inst):
    name = inst["name"]
    out = []
    obj = ctx.builddir / "obj" / f"{name}.o"
    if not obj.exists():
        return [(f"{name}_built", False, f"{obj} missing: run ninja -C {ctx.builddir}")]
    sass = ctx.run([cuobjdump, "-sass", obj]).stdout
    missing = [op for op in ("QGMMA", "UTMALDG", "UTMASTG", "USETMAXREG") if op not in sass]
    out.append((f"{name}_sass", not missing, f"no {', '.join(missing)} in the SASS"))
    res = ctx.run([cuobjdump, "-res-usage", obj]).stdout
    usage = re.findall(r"STACK:(\d+) SHARED:\d+ LOCAL:(\d+)", res)
    out.append((f"{name}_no_local_memory", bool(usage) and all(s == "0" and l == "0" for s, l in usage),
                f"resource usage: {usage or res[-500:]}"))
    # ptxas' own report (device code only: no host compile)
    cubin = ctx.mkdtemp("sass") / f"{name}.cubin"
    r = ctx.run([ctx.tool("nvcc"), "-std=c++17", "-O3", "-gencode=arch=compute_90a,code=sm_90a", "-cubin",
                 "-Xptxas", "-v", f"-I{ctx.srcdir}/include", f"-I{ctx.builddir}/include",
                 ctx.builddir / "gen" / inst["file"], "-o", cubin])
    log = r.stdout + r.stderr
    spills = [int(x) for x in re.findall(r"(\d+) bytes spill stores", log)]
    out.append((f"{name}_no_spill_stores", bool(spills) and not any(spills), f"ptxas: spill stores {spills}"))
    serial = [line for line in log.splitlines() if "wgmma" in line.lower() and "serializ" in line.lower()]
    out.append((f"{name}_wgmma_not_serialized", not serial, "\n".join(serial[:3])))
    return out


def test_gemm_sass(ctx):
    insts = _gemm_instances(ctx)
    if not insts:
        return [("no_gemm_instances_in_this_build", True, "")]
    cuobjdump = find_cuobjdump(ctx)
    results = []
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        for r in pool.map(lambda i: _check_one(ctx, cuobjdump, i), insts):
            results += r
    return results


def test_overlap_example_builds(ctx):
    """examples/overlap compiles for sm_90a against the headers (it runs on a GPU)."""
    src = ctx.srcdir / "examples" / "overlap" / "overlap.cu"
    exe = ctx.mkdtemp("overlap") / "overlap"
    ctx.run([ctx.tool("nvcc"), "-std=c++17", "-O2", "-gencode=arch=compute_90a,code=sm_90a",
             f"-I{ctx.srcdir}/include", src, "-o", exe])
    return [("overlap_example_compiles", exe.exists(), "")]
