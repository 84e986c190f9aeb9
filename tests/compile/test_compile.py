"""Compile checks: the format and quantization headers build for every arch,
and the disassembly shows the hardware conversion instructions where the
chip has them (compile-verified; nothing here runs on a GPU)."""

import re
import shutil
from pathlib import Path

TU = "tests/compile/formats_quant.cu"


def cuobjdump(ctx):
    """cuobjdump from the CUDA toolkit or PyPI's nvidia-cuda-cuobjdump."""
    cands = [shutil.which("cuobjdump")]
    nvcc = ctx.tool("nvcc")
    if nvcc:
        cands.append(str(Path(nvcc).parent / "cuobjdump"))
    try:
        import nvidia
        cands += [str(Path(p) / "cu13" / "bin" / "cuobjdump") for p in nvidia.__path__]
    except ImportError:
        pass
    for c in cands:
        if c and Path(c).is_file():
            return c
    raise AssertionError("cuobjdump not found: pip install nvidia-cuda-cuobjdump (the CUDA image lacks it)")


def hip_clang(ctx):
    c = ctx.tool("hip-clang") or shutil.which("clang-22")
    assert c, "clang-22 not found: apt-get install clang-22 (AMD device compiles)"
    return c


def nv_sass(ctx, arch, src=TU, defines=("-DMK_NO_LAUNCHERS",)):
    out = ctx.mkdtemp(f"sass-{arch}") / "k.cubin"
    num = arch[3:-1]
    ctx.run([ctx.tool("nvcc"), "-std=c++17", "-O3", f"-I{ctx.srcdir}/include", *defines,
             f"-gencode=arch=compute_{num}a,code=sm_{num}a", "-cubin", ctx.srcdir / src, "-o", out])
    return ctx.run([cuobjdump(ctx), "-sass", out]).stdout


def amd_isa(ctx, arch, src=TU):
    out = ctx.mkdtemp(f"isa-{arch}") / "k.s"
    ctx.run([hip_clang(ctx), "-x", "hip", f"--offload-arch={arch}", "--cuda-device-only", "-nogpulib", "-nogpuinc",
             "-O3", "-std=c++17", "-D__AMDGCN_WAVEFRONT_SIZE=64", "-DMK_NO_LAUNCHERS", "-Werror",
             f"-I{ctx.srcdir}/include", "-S", ctx.srcdir / src, "-o", out])
    return out.read_text()


def _count(text, pattern):
    return len(re.findall(pattern, text))


KERNELS = ("fp8_1x128_kernelILi2048ELb0", "fp8_1x128_kernelILi2048ELb1", "fp4_kernelILi2048ELi32",
           "fp4_kernelILi2048ELi16", "mk_test_conversions")


def test_sm90a_fp8_conversions(ctx):
    sass = nv_sass(ctx, "sm_90a")
    for k in KERNELS:
        assert k in sass, f"kernel {k} missing from the sm_90a cubin"
    assert _count(sass, r"F2FP\.SATFINITE\.E4M3\.F32") >= 5, "sm_90a: no cvt.rn.satfinite.e4m3x2 (F2FP.SATFINITE.E4M3)"
    assert _count(sass, r"F2FP\.SATFINITE\.E5M2\.F32") >= 1, "sm_90a: no F2FP.SATFINITE.E5M2"
    # no FP4 conversion instruction exists on sm_90a: the portable path must be used
    assert "E2M1" not in sass, "sm_90a SASS mentions E2M1"


def test_sm100a_fp4_and_scale_conversions(ctx):
    sass = nv_sass(ctx, "sm_100a")
    for k in KERNELS:
        assert k in sass, f"kernel {k} missing from the sm_100a cubin"
    assert _count(sass, r"F2FP\.SATFINITE\.E2M1\.F32") >= 9, "sm_100a: no cvt.rn.satfinite.e2m1x2 (F2FP...E2M1)"
    assert _count(sass, r"F2FP\.SATFINITE\.E8\.F32.*\.RP") >= 1, "sm_100a: no cvt.rp.satfinite.ue8m0x2 (F2FP...E8...RP)"
    assert _count(sass, r"F2FP\.SATFINITE\.E4M3\.F32") >= 5, "sm_100a: no F2FP.SATFINITE.E4M3"


def test_gfx942_fnuz_conversion(ctx):
    isa = amd_isa(ctx, "gfx942")
    for k in KERNELS:
        assert k in isa, f"kernel {k} missing from the gfx942 ISA"
    assert "v_cvt_pk_fp8_f32" in isa, "gfx942: e4m3fnuz pairs are not converted with v_cvt_pk_fp8_f32"
    assert "v_cvt_scalef32" not in isa, "gfx942 ISA uses gfx950-only conversions"


def test_gfx950_scaled_conversions(ctx):
    isa = amd_isa(ctx, "gfx950")
    for k in KERNELS:
        assert k in isa, f"kernel {k} missing from the gfx950 ISA"
    assert _count(isa, r"v_cvt_scalef32_pk_fp8_f32") >= 5, "gfx950: no v_cvt_scalef32_pk_fp8_f32"
    assert _count(isa, r"v_cvt_scalef32_pk_fp4_f32") >= 5, "gfx950: no v_cvt_scalef32_pk_fp4_f32"


def test_formats_header_is_c11(ctx):
    """formats.h, sf_layout.h and moekit.h compile as strict C11 on the host."""
    src = ctx.mkdtemp("c11") / "t.c"
    src.write_text('#include "moekit/core/formats.h"\n#include "moekit/core/sf_layout.h"\n#include "moekit/moekit.h"\n'
                   "int main(void) { return mk_e4m3_from_f32(1.0f) == 0x38 && mk_sf_offset_128x4(37, 5, 6) == 597 ? 0 : 1; }\n")
    exe = src.with_suffix("")
    ctx.run([ctx.tool("cc"), "-std=c11", "-pedantic", "-Wall", "-Wextra", "-Werror", f"-I{ctx.srcdir}/include",
             src, "-o", exe])
    r = ctx.run([exe], check=False)
    assert r.returncode == 0, "1.0 -> e4m3 0x38 or the sf_layout worked example (byte 597) is wrong"


def test_quant_no_spills(ctx):
    """ptxas: the quant kernels use no local memory on either NVIDIA arch."""
    for arch in ("90", "100"):
        r = ctx.run([ctx.tool("nvcc"), "-std=c++17", "-O3", f"-I{ctx.srcdir}/include", "-DMK_NO_LAUNCHERS",
                     f"-gencode=arch=compute_{arch}a,code=sm_{arch}a", "-Xptxas", "-v", "-cubin",
                     ctx.srcdir / TU, "-o", ctx.mkdtemp("spill") / "k.cubin"])
        spills = re.findall(r"(\d+) bytes spill stores", r.stderr)
        stacks = re.findall(r"(\d+) bytes stack frame", r.stderr)
        assert spills and all(s == "0" for s in spills), f"sm_{arch}a spills: {r.stderr[-1500:]}"
        assert all(s == "0" for s in stacks), f"sm_{arch}a uses a stack frame: {r.stderr[-1500:]}"


MOE_KERNELS = ("dispatch_kernelILi7168ELi128", "dispatch_kernelILi2880ELi32", "swiglu_fp8_kernelILi2048ELb0ELb0",
               "swiglu_fp8_kernelILi2048ELb1ELb1", "combine_kernelILi7168")


def test_moe_kernels_every_arch(ctx):
    """The MoE glue kernels compile for all four archs, use the FP8 cvt where
    the chip has it, and spill nothing on NVIDIA."""
    results = []
    for arch in ("sm_90a", "sm_100a"):
        num = arch[3:-1]
        out = ctx.mkdtemp(f"moe-{arch}") / "k.cubin"
        r = ctx.run([ctx.tool("nvcc"), "-std=c++17", "-O3", f"-I{ctx.srcdir}/include", "-DMK_NO_LAUNCHERS",
                     f"-gencode=arch=compute_{num}a,code=sm_{num}a", "-Xptxas", "-v", "-cubin",
                     ctx.srcdir / "tests/compile/moe.cu", "-o", out])
        sass = ctx.run([cuobjdump(ctx), "-sass", out]).stdout
        missing = [k for k in MOE_KERNELS if k not in sass]
        spills = [s for s in re.findall(r"(\d+) bytes spill stores", r.stderr) if s != "0"]
        ok = not missing and not spills and "F2FP.SATFINITE.E4M3" in sass
        results.append((arch, ok, f"missing {missing}, spills {spills}, e4m3 cvt {'F2FP.SATFINITE.E4M3' in sass}"))
    for arch in ("gfx942", "gfx950"):
        isa = amd_isa(ctx, arch, "tests/compile/moe.cu")
        missing = [k for k in MOE_KERNELS if k not in isa]
        results.append((arch, not missing, f"missing {missing}"))
    return results
