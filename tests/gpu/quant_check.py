#!/usr/bin/env python3
"""Quantization kernels on the GPU against an independent numpy/ml_dtypes
reference, bit-exact: FP8 1x128 (f32 and ue8m0x4 scales), MXFP4 and NVFP4
(row-major and swizzled 128x4 scales), fresh random inputs with inf, NaN,
bf16 subnormals, all-zero groups and huge values, outputs poisoned first.

    python3 tests/gpu/quant_check.py --builddir build-gpu

Prints PASS/FAIL per case; exits 1 on any failure.
"""

import argparse
import sys
from pathlib import Path

import ml_dtypes as md
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mk  # noqa: E402

F32 = np.float32


# ---- inputs -----------------------------------------------------------------------------------
def make_input(m, k, ld, rng):
    """bf16 bits [m, ld] (only [:, :k] used): per-row magnitudes from 1e-6 to 1e4
    and a sprinkling of special values."""
    scale = (10.0 ** rng.uniform(-6, 4, size=(m, 1))).astype(F32)
    x = (rng.standard_normal((m, ld)).astype(F32) * scale)
    bits = (x.view(np.uint32) >> 16).astype(np.uint16)         # truncate to bf16: any bf16 is valid input
    flat = bits.reshape(-1)
    n = flat.size
    for val, frac in ((0x7F80, 1e-4), (0xFF80, 1e-4), (0x7FC0, 1e-4), (0xFFC1, 5e-5), (0x0001, 1e-4),
                      (0x8003, 1e-4), (0x7F7F, 5e-5), (0x0000, 1e-3)):
        idx = rng.integers(0, n, max(1, int(n * frac)))
        flat[idx] = val
    if m > 2:                                                    # an all-zero row and an all-huge group
        bits[1, :] = 0
        bits[2, :min(k, 32)] = 0x7F00
    return bits


def bf16_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(F32)


def groups_amax(x, g):
    """Largest finite |x| per group of g (0 if none): inf and NaN are ignored."""
    a = np.abs(x.reshape(x.shape[0], -1, g))
    a = np.where(np.isfinite(a), a, F32(0))
    return a.max(axis=2).astype(F32)


def ceil_log2_code(v):
    """ue8m0 round-up code of float32 values (v >= 0), via frexp in float64."""
    mant, ex = np.frexp(v.astype(np.float64))
    e = ex - 1 + (mant != 0.5)
    code = np.clip(e + 127, 0, 254)
    return np.where(v == 0, 0, code).astype(np.uint32)


def encode(vals, fmt):
    """Saturating RNE encode with moekit's NaN rule (ml_dtypes after clamping)."""
    dt, mx = {"e4m3": (md.float8_e4m3fn, 448.0), "e2m1": (md.float4_e2m1fn, 6.0)}[fmt]
    with np.errstate(invalid="ignore", over="ignore"):
        codes = np.clip(vals, -mx, mx).astype(dt).view(np.uint8)
    # NaN inputs: the scaled value is the canonical NaN whatever the input's
    # sign (the GPU's multiply canonicalizes), so e4m3 gives 0x7f, e2m1 +6.
    return np.where(np.isnan(vals), np.uint8(0x7F if fmt == "e4m3" else 0x7), codes)


# ---- references -------------------------------------------------------------------------------
def ref_fp8(xb, k, ue8m0):
    x = bf16_to_f32(xb[:, :k])
    amax = np.maximum(groups_amax(x, 128), F32(1e-4))
    if ue8m0:
        e = ceil_log2_code(amax / F32(448))
        inv = ((254 - e).astype(np.uint32) << 23).view(F32)
        sf = e.astype(np.uint8)
    else:
        inv = F32(448) / amax
        sf = amax / F32(448)
    with np.errstate(invalid="ignore", over="ignore"):
        q = encode((x.reshape(x.shape[0], -1, 128) * inv[:, :, None]).reshape(x.shape), "e4m3")
    return q, sf


def ref_fp4(xb, k, group, gs=None):
    x = bf16_to_f32(xb[:, :k])
    amax = groups_amax(x, group)
    if group == 32:
        e = ceil_log2_code(amax / F32(6))
        inv = ((254 - e).astype(np.uint32) << 23).view(F32)
        sf = e.astype(np.uint8)
    else:
        s = (amax / F32(6)) * F32(gs)
        sf = np.clip(s, 0, 448).astype(md.float8_e4m3fn).view(np.uint8)
        dec = sf.view(md.float8_e4m3fn).astype(F32)
        with np.errstate(divide="ignore"):
            inv = np.where(dec > 0, F32(gs) / dec, F32(0)).astype(F32)
    with np.errstate(invalid="ignore", over="ignore"):
        codes = encode((x.reshape(x.shape[0], -1, group) * inv[:, :, None]).reshape(x.shape), "e2m1")
    packed = (codes[:, 0::2] & 0xF) | ((codes[:, 1::2] & 0xF) << 4)
    return packed.astype(np.uint8), sf


def swizzle_128x4(sf):
    """Row-major [m, g] scales -> the swizzled 128x4 byte layout, padding zero."""
    m, g = sf.shape
    mp, gp = -(-m // 128) * 128, -(-g // 4) * 4
    full = np.zeros((mp, gp), np.uint8)
    full[:m, :g] = sf
    # [m_tiles, 4 (r/32), 32 (r%32), g_tiles, 4 (c)] -> [m_tiles, g_tiles, 32, 4, 4]
    t = full.reshape(mp // 128, 4, 32, gp // 4, 4).transpose(0, 3, 2, 1, 4)
    return t.reshape(-1)


# ---- cases -----------------------------------------------------------------------------------
def first_diff(got, ref):
    idx = np.argwhere(got != ref)
    return f"{len(idx)} differ; first at {tuple(idx[0])}: got {got[tuple(idx[0])]:#x}, ref {ref[tuple(idx[0])]:#x}"


def check_fp8(lib, m, k, ue8m0, ld_pad, rng):
    ld = k + ld_pad
    xb = make_input(m, k, ld, rng)
    x = torch.from_numpy(xb.view(np.int16)).cuda()
    q = torch.full((m, k), 0x55, dtype=torch.uint8, device="cuda")
    sf_ld = -(-m // 4) * 4
    kb = k // 128
    cols = -(-kb // 4) if ue8m0 else kb
    sf = torch.full((cols, sf_ld), -1, dtype=torch.int32 if ue8m0 else torch.float32, device="cuda")
    args = lib.args("mk_quant_fp8_args", x=mk.tensor(x, mk.BF16, shape=(m, k), strides=(ld, 1)),
                    q=mk.tensor(q, mk.E4M3), scales=mk.tensor(sf, mk.UE8M0X4 if ue8m0 else mk.F32,
                                                              shape=(m, cols), strides=(1, sf_ld)))
    lib.call("mk_quant_fp8", args)
    torch.cuda.synchronize()
    rq, rsf = ref_fp8(xb, k, ue8m0)
    gq = q.cpu().numpy()
    if not np.array_equal(gq, rq):
        return "q: " + first_diff(gq, rq)
    if ue8m0:
        gsf = sf.cpu().numpy().view(np.uint8).reshape(cols, sf_ld, 4)[:, :m, :]     # [k/512, m, 4 bytes]
        full = np.zeros((m, cols * 4), np.uint8)
        full[:, :kb] = rsf
        want = full.reshape(m, cols, 4).transpose(1, 0, 2)
        if not np.array_equal(gsf, want):
            return "scales: " + first_diff(gsf, want)
    else:
        gsf = sf.cpu().numpy()[:, :m].T
        if not np.array_equal(gsf.view(np.uint32), rsf.view(np.uint32)):
            return "scales: " + first_diff(gsf.view(np.uint32), rsf.view(np.uint32))
    return None


def check_fp4(lib, m, k, group, swizzled, rng):
    xb = make_input(m, k, k, rng)
    x = torch.from_numpy(xb.view(np.int16)).cuda()
    q = torch.full((m, k // 2), 0x55, dtype=torch.uint8, device="cuda")
    g = k // group
    nsf = (-(-m // 128) * 128) * (-(-g // 4) * 4) if swizzled else m * g
    sf = torch.full((nsf,), 0xAA, dtype=torch.uint8, device="cuda")
    sf_t = mk.tensor(sf, mk.UE8M0 if group == 32 else mk.UE4M3, shape=(nsf,) if swizzled else (m, g),
                     strides=(1,) if swizzled else (g, 1))
    layout = 1 if swizzled else 0
    gs_val = float(448.0 * 6.0 / max(1.0, float(np.nanmax(np.where(np.isfinite(bf16_to_f32(xb)),
                                                                   np.abs(bf16_to_f32(xb)), 0)))))
    if group == 32:
        args = lib.args("mk_quant_mxfp4_args", x=mk.tensor(x, mk.BF16), q=mk.tensor(q, mk.E2M1X2), scales=sf_t,
                        sf_layout=layout)
        lib.call("mk_quant_mxfp4", args)
    else:
        gs = torch.tensor([gs_val], dtype=torch.float32, device="cuda")
        args = lib.args("mk_quant_nvfp4_args", x=mk.tensor(x, mk.BF16), q=mk.tensor(q, mk.E2M1X2), scales=sf_t,
                        global_scale=mk.tensor(gs), sf_layout=layout)
        lib.call("mk_quant_nvfp4", args)
    torch.cuda.synchronize()
    rq, rsf = ref_fp4(xb, k, group, np.float32(gs_val))
    gq = q.cpu().numpy()
    if not np.array_equal(gq, rq):
        return "q: " + first_diff(gq, rq)
    gsf = sf.cpu().numpy()
    want = swizzle_128x4(rsf) if swizzled else rsf.reshape(-1)
    if not np.array_equal(gsf, want):
        return "scales: " + first_diff(gsf, want)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default="build-gpu")
    ap.add_argument("--seed", type=int, default=None, help="default: fresh randomness each run")
    a = ap.parse_args()
    lib = mk.Library(a.builddir)
    seed = a.seed if a.seed is not None else int.from_bytes(np.random.bytes(4), "little")
    rng = np.random.default_rng(seed)
    print(f"# quant_check: library {lib.model}, seed {seed}")
    ks = sorted({k for k in (7168, 2048, 2048 * 2) if lib.has(1, k=k)})
    failures = 0
    cases = []
    for k in ks:
        for m in (1, 3, 128, 1000, 4096):
            for ue8m0 in (False, True):
                cases.append((f"fp8_1x128 {'ue8m0' if ue8m0 else 'f32'} M={m} K={k}",
                              lambda m=m, k=k, u=ue8m0: check_fp8(lib, m, k, u, 64 if m == 3 else 0, rng)))
            for group in (32, 16):
                if not lib.has(2 if group == 32 else 3, k=k):
                    continue
                for sw in (False, True):
                    name = f"{'mxfp4' if group == 32 else 'nvfp4'} {'swizzled' if sw else 'row-major'} M={m} K={k}"
                    cases.append((name, lambda m=m, k=k, g=group, s=sw: check_fp4(lib, m, k, g, s, rng)))
    for name, fn in cases:
        try:
            problem = fn()
        except Exception as e:  # noqa: BLE001
            problem = f"{type(e).__name__}: {e}"
        print(("FAIL " if problem else "PASS ") + f"quant {name}" + (f": {problem}" if problem else ""))
        failures += bool(problem)
    print(f"# quant_check: {len(cases) - failures} passed, {failures} failed")
    return 1 if failures or not cases else 0


if __name__ == "__main__":
    sys.exit(main())
