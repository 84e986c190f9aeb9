"""Formats: moekit/core/formats.h against ml_dtypes, bit-exact.

Encoders are checked on all 2^32 float32 bit patterns, decoders on every
code. ml_dtypes does not saturate (overflow gives NaN or inf), so inputs are
clamped to the format's finite max before it converts them: clamp-then-round
equals round-with-saturation, because max is representable. NaN inputs are
checked against moekit's documented rule (docs/formats.md), which follows the
hardware (cvt.rn.satfinite), not ml_dtypes' choice of NaN payload. ue8m0 has
no rounding-up mode in ml_dtypes; its reference is math.frexp in float64.
"""

import ctypes
import multiprocessing as mp
import sys

import numpy as np

try:
    import ml_dtypes as md
except ImportError:  # reported by each test; .ci/run installs it
    md = None

CHUNK = 1 << 24
FMT = {"e4m3": 0, "e4m3fnuz": 1, "e5m2": 2, "e2m1": 3, "ue8m0_ceil": 4, "ue8m0_floor": 5, "ue4m3": 6}
_shim = None


def _build_shim(ctx):
    out = ctx.tmp / "libformats_shim.so"
    if not out.exists():
        ctx.run([ctx.tool("cc"), "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-shared", "-fPIC",
                 f"-I{ctx.srcdir}/include", ctx.srcdir / "tests/host/formats_shim.c", "-o", out])
    return out


def _load(path):
    global _shim
    if _shim is None:
        _shim = ctypes.CDLL(str(path))
        _shim.shim_encode_range.argtypes = [ctypes.c_int, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t]
        _shim.shim_decode.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        _shim.shim_e2m1x2_pack.argtypes = [ctypes.c_uint8, ctypes.c_uint8]
        _shim.shim_e2m1x2_pack.restype = ctypes.c_uint8
    return _shim


# ---- references ------------------------------------------------------------------------
def _ref_small(fmt, x):
    """ml_dtypes after clamping to the finite max; NaN positions handled by the caller."""
    dt, mx = {"e4m3": (md.float8_e4m3fn, 448.0), "e4m3fnuz": (md.float8_e4m3fnuz, 240.0),
              "e5m2": (md.float8_e5m2, 57344.0), "e2m1": (md.float4_e2m1fn, 6.0)}[fmt]
    with np.errstate(invalid="ignore"):
        return np.clip(x, -mx, mx).astype(dt).view(np.uint8)


def _ref_nan(fmt, bits):
    """moekit's NaN rule (docs/formats.md) for NaN inputs given as uint32 bits."""
    if fmt in ("e4m3", "e5m2"):   # the hardware's rule (tests/gpu/formats_hw.cu, all 2^32 inputs on an H200)
        return np.full(bits.shape, 0x7F, np.uint8)
    if fmt == "e4m3fnuz":
        return np.full(bits.shape, 0x80, np.uint8)
    if fmt == "e2m1":
        return np.full(bits.shape, 0x7, np.uint8)
    if fmt in ("ue8m0_ceil", "ue8m0_floor"):
        return np.full(bits.shape, 0xFF, np.uint8)
    if fmt == "ue4m3":
        return np.full(bits.shape, 0x7F, np.uint8)
    raise KeyError(fmt)


def _ref_ue8m0(x, ceil):
    a = np.abs(x)
    mant, ex = np.frexp(a)                         # a = mant * 2^ex, mant in [0.5, 1) (subnormals too)
    e = ex - 1                                      # floor(log2 a)
    if ceil:
        e = e + (mant != 0.5)
    code = np.clip(e + 127, 0, 254)
    code = np.where(a == 0, 0, code)
    code = np.where(np.isinf(a), 254, code)
    return code.astype(np.uint8)


def _ref_ue4m3(x):
    with np.errstate(invalid="ignore"):
        r = np.clip(x, 0, 448.0).astype(md.float8_e4m3fn).view(np.uint8)
    return np.where(np.signbit(x), np.uint8(0), r)


def _check_chunk(args):
    fmt, start, n, shim_path = args
    shim = _load(shim_path)
    bits = np.arange(start, start + n, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    got = np.empty(n, np.uint8)
    shim.shim_encode_range(FMT[fmt], start, got.ctypes.data, n)
    nan = np.isnan(x)
    if fmt.startswith("ue8m0"):
        ref = _ref_ue8m0(x, fmt.endswith("ceil"))
    elif fmt == "ue4m3":
        ref = _ref_ue4m3(x)
    else:
        ref = _ref_small(fmt, x)
    ref = np.where(nan, _ref_nan(fmt, bits), ref)
    bad = np.nonzero(got != ref)[0]
    if bad.size:
        i = bad[0]
        return (f"{fmt}: {bad.size} mismatches in [{start:#x}, {start + n:#x}); first: f32 bits {int(bits[i]):#010x} "
                f"({float(x[i])!r}) -> moekit {int(got[i]):#04x}, reference {int(ref[i]):#04x}")
    return None


def _exhaustive(ctx, fmt):
    assert md is not None, "ml_dtypes is not installed (pip install ml_dtypes)"
    shim = _build_shim(ctx)
    jobs = [(fmt, s, CHUNK, str(shim)) for s in range(0, 1 << 32, CHUNK)]
    with mp.get_context("fork").Pool(2) as pool:
        for problem in pool.imap_unordered(_check_chunk, jobs):
            if problem:
                pool.terminate()
                raise AssertionError(problem)


def test_e4m3_encode_exhaustive(ctx):
    _exhaustive(ctx, "e4m3")


def test_e4m3fnuz_encode_exhaustive(ctx):
    _exhaustive(ctx, "e4m3fnuz")


def test_e5m2_encode_exhaustive(ctx):
    _exhaustive(ctx, "e5m2")


def test_e2m1_encode_exhaustive(ctx):
    _exhaustive(ctx, "e2m1")


def test_ue8m0_ceil_encode_exhaustive(ctx):
    _exhaustive(ctx, "ue8m0_ceil")


def test_ue8m0_floor_encode_exhaustive(ctx):
    _exhaustive(ctx, "ue8m0_floor")


def test_ue4m3_encode_exhaustive(ctx):
    _exhaustive(ctx, "ue4m3")


# ---- decoders: every code ----------------------------------------------------------------
def test_decode_all_codes(ctx):
    assert md is not None, "ml_dtypes is not installed (pip install ml_dtypes)"
    shim = _load(_build_shim(ctx))
    results = []
    cases = {"e4m3": (md.float8_e4m3fn, 256), "e4m3fnuz": (md.float8_e4m3fnuz, 256), "e5m2": (md.float8_e5m2, 256),
             "e2m1": (md.float4_e2m1fn, 16), "ue8m0_ceil": (md.float8_e8m0fnu, 256), "ue4m3": (md.float8_e4m3fn, 128)}
    for fmt, (dt, count) in cases.items():
        codes = np.arange(count, dtype=np.uint8)
        got = np.empty(count, np.float32)
        shim.shim_decode(FMT[fmt], codes.ctypes.data, got.ctypes.data, count)
        ref = codes.view(dt).astype(np.float32)
        same = (got.view(np.uint32) == ref.view(np.uint32)) | (np.isnan(got) & np.isnan(ref))
        bad = np.nonzero(~same)[0]
        msg = "" if not bad.size else f"code {int(codes[bad[0]]):#04x}: moekit {got[bad[0]]!r}, ml_dtypes {ref[bad[0]]!r}"
        results.append((f"{fmt}", not bad.size, msg))
    return results


def test_e2m1_pack_order(ctx):
    shim = _load(_build_shim(ctx))
    # even element in the low nibble: [1.0 (0x2), -6.0 (0xf)] -> 0xf2
    assert shim.shim_e2m1x2_pack(0x2, 0xF) == 0xF2, hex(shim.shim_e2m1x2_pack(0x2, 0xF))
    assert shim.shim_e2m1x2_pack(0x1F, 0x0) == 0x0F, "pack must mask each input to a nibble"


def test_round_trip_every_code(ctx):
    """decode then encode gives the code back (canonical NaN aside)."""
    shim = _load(_build_shim(ctx))
    results = []
    for fmt, count in (("e4m3", 256), ("e4m3fnuz", 256), ("e5m2", 256), ("e2m1", 16), ("ue4m3", 128)):
        codes = np.arange(count, dtype=np.uint8)
        vals = np.empty(count, np.float32)
        shim.shim_decode(FMT[fmt], codes.ctypes.data, vals.ctypes.data, count)
        back = np.empty(count, np.uint8)
        for i, v in enumerate(vals.view(np.uint32)):
            b = np.empty(1, np.uint8)
            shim.shim_encode_range(FMT[fmt], int(v), b.ctypes.data, 1)
            back[i] = b[0]
        keep = ~np.isnan(vals)
        if fmt == "e5m2":
            keep &= ~np.isinf(vals)  # inf saturates to max by design
        bad = np.nonzero((back != codes) & keep)[0]
        results.append((fmt, not bad.size, "" if not bad.size else f"code {int(codes[bad[0]]):#x} -> {int(back[bad[0]]):#x}"))
    return results


if __name__ == "__main__":
    sys.exit("run through tests/run")
