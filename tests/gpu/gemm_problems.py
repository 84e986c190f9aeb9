"""The FP8 GEMM problems the GPU benchmarks time (tests/gpu/gemm_bench.py and the probes built on it):
fresh quantized operands for a dense, contiguous or masked call of an instance library, the call
itself (forced onto one configuration through FORCE while sweeping), the cuBLASLt / torch peers of
the same shape, and DeepGEMM's call on the same operands when deep_gemm imports (load_deepgemm)."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gemm_check as gc  # noqa: E402  (quantization helpers)
import mk  # noqa: E402

import torch  # noqa: E402

DEV = "cuda"
FORCE = {}  # {"kernel": b"name"} while sweeping


# ---- DeepGEMM, measured in this run when it imports ---------------------------------------------
DG = None          # the deep_gemm module, or None
DG_FN = {}         # kind -> DeepGEMM entry point
DG_MAX_DIFF = 1e-3


def load_deepgemm(path):
    """Imports deep_gemm (from `path` first, when given); returns a line saying what happened."""
    global DG
    if path:
        path = str(Path(path).resolve())
        sys.path.insert(0, path)
        # the JIT cache next to the build (tests/gpu/peers/deepgemm.sh uses the same), not in $HOME
        os.environ.setdefault("DG_JIT_CACHE_DIR", str(Path(path).parent / "deepgemm-jit-cache"))
    try:
        import deep_gemm
    except Exception as e:  # noqa: BLE001 - absent or broken: the bench runs without it
        if path:
            return f"DeepGEMM: not measured (import from {path} failed: {type(e).__name__}: {e})"
        return None
    names = {  # DeepGEMM 2.x names (the FP8 ones are aliases of the FP8/FP4 entry points)
        "dense": ("fp8_gemm_nt", "fp8_fp4_gemm_nt"),
        "contiguous": ("m_grouped_fp8_gemm_nt_contiguous", "m_grouped_fp8_fp4_gemm_nt_contiguous"),
        "masked": ("m_grouped_fp8_gemm_nt_masked", "m_grouped_fp8_fp4_gemm_nt_masked"),
    }
    for kind, cands in names.items():
        fn = next((getattr(deep_gemm, n) for n in cands if hasattr(deep_gemm, n)), None)
        if fn is None:
            return f"DeepGEMM: not measured ({deep_gemm.__file__} has none of {', '.join(cands)})"
        DG_FN[kind] = fn
    if torch.cuda.get_device_capability()[0] != 9:
        return "DeepGEMM: not measured (this bench feeds it fp32 scales, its sm90 path; not an sm90 GPU)"
    # contiguous groups: moekit's m_indices align every expert to 128 rows; DeepGEMM must expect the same
    if hasattr(deep_gemm, "set_mk_alignment_for_contiguous_layout"):
        deep_gemm.set_mk_alignment_for_contiguous_layout(128)
    elif hasattr(deep_gemm, "get_m_alignment_for_contiguous_layout"):
        if deep_gemm.get_m_alignment_for_contiguous_layout() != 128:
            return "DeepGEMM: not measured (its contiguous layout alignment is not 128)"
    DG = deep_gemm
    return (f"DeepGEMM: measuring {getattr(deep_gemm, '__version__', '?')} from {Path(deep_gemm.__file__).parent} "
            f"({DG_FN['dense'].__name__}, {DG_FN['contiguous'].__name__}, {DG_FN['masked'].__name__}); "
            f"JIT cache {os.environ.get('DG_JIT_CACHE_DIR', '~/.deep_gemm')}")


def dg_entry(kind, kernel, call, out, ref, valid):
    """What the bench needs to check and time DeepGEMM on one shape: `kernel` and `call` run it
    with MN-major and with row-major A scales, both into `out`; `ref` is moekit's output buffer,
    and valid(t) the rows of an output that hold results."""
    return {"kind": kind, "kernel": kernel, "call": call, "out": out, "ref": ref, "valid": valid}


# ---- problems ------------------------------------------------------------------------------
def mk_call(lib, kind, a, sfa, b, sfb, d, keep=(), **kw):
    """The call and its mk_gemm_fp8_info; `keep`: the torch tensors behind the arguments, which the
    returned callable holds alive (an mk_tensor holds only a pointer)."""
    kw.update(FORCE)
    args = lib.args("mk_gemm_fp8_args", kind=kind, a=a, a_scales=sfa, b=b, b_scales=sfb, d=d, **kw)
    info = lib.query("mk_gemm_fp8_query", args, "mk_gemm_fp8_info")
    stream = torch.cuda.current_stream().cuda_stream
    def run():
        return lib.call("mk_gemm_fp8", args, stream=stream)
    run.keep = keep
    return run, info


def dense_problem(lib, m, n, k, dg=False):
    qa, sa = gc.quant_rows(torch.randn(m, k, device=DEV))
    qb, sb = gc.quant_blocks(torch.randn(1, n, k, device=DEV))
    qb, sb = qb[0], sb[0]
    d = torch.empty(m, n, device=DEV, dtype=torch.bfloat16)
    sbuf, shape, strides = gc.mn_major(sa)
    run, info = mk_call(lib, mk.GEMM_DENSE, mk.tensor(qa), mk.tensor(sbuf, shape=shape, strides=strides),
                        mk.tensor(qb), mk.tensor(sb), mk.tensor(d), keep=(qa, sbuf, qb, sb, d))
    sa_cm = sbuf[:, :m].t()                      # [M, K/128], column-major
    peers = {
        "blockwise": lambda: torch._scaled_mm(qa, qb.t(), scale_a=sa_cm, scale_b=sb.t(), out_dtype=torch.bfloat16),
        "per-tensor": lambda: torch._scaled_mm(qa, qb.t(), scale_a=torch.ones((), device=DEV),
                                               scale_b=torch.ones((), device=DEV), out_dtype=torch.bfloat16),
    }
    dgp = None
    if dg and DG is not None:
        # A scales: moekit's MN-major buffer ([M, K/128], strides {1, align(M, 4)}: DeepGEMM's
        # TMA-aligned layout, used as is), or row-major [M, K/128] (DeepGEMM transposes it per call)
        out = torch.empty(m, n, device=DEV, dtype=torch.bfloat16)
        fn = DG_FN["dense"]
        dgp = dg_entry("dense", lambda: fn((qa, sa_cm), (qb, sb), out, disable_ue8m0_cast=True),
                       lambda: fn((qa, sa), (qb, sb), out, disable_ue8m0_cast=True), out, d, lambda t: t)
    return run, info, peers, dgp


def contiguous_problem(lib, g, per, n, k, dg=False):
    counts = [per] * g
    m_indices = gc.contiguous_layout(counts, 128, tail_blocks=0)
    m = m_indices.numel()
    qa, sa = gc.quant_rows(torch.randn(m, k, device=DEV))
    qb, sb = gc.quant_blocks(torch.randn(g, n, k, device=DEV))
    d = torch.empty(m, n, device=DEV, dtype=torch.bfloat16)
    sbuf, shape, strides = gc.mn_major(sa)
    run, info = mk_call(lib, mk.GEMM_GROUPED_CONTIGUOUS, mk.tensor(qa),
                        mk.tensor(sbuf, shape=shape, strides=strides), mk.tensor(qb), mk.tensor(sb), mk.tensor(d),
                        keep=(qa, sbuf, qb, sb, d, m_indices), m_indices=mk.tensor(m_indices))
    offs = torch.arange(1, g + 1, device=DEV, dtype=torch.int32) * per
    row_a = torch.ones(m, device=DEV)
    row_b = torch.ones(g, n, device=DEV)
    peers = {"grouped (row-wise)": lambda: torch._scaled_grouped_mm(qa, qb.transpose(-2, -1), row_a, row_b, offs=offs,
                                                                     out_dtype=torch.bfloat16)}
    dgp = None
    if dg and DG is not None:
        out = torch.empty(m, n, device=DEV, dtype=torch.bfloat16)
        fn = DG_FN["contiguous"]
        sa_mn = sbuf[:, :m].t()                  # [M, K/128], MN-major, TMA-aligned
        rows = m_indices >= 0                    # padding rows (-1) hold no result
        dgp = dg_entry("contiguous",
                       lambda: fn((qa, sa_mn), (qb, sb), out, m_indices, disable_ue8m0_cast=True),
                       lambda: fn((qa, sa), (qb, sb), out, m_indices, disable_ue8m0_cast=True),
                       out, d, lambda t: t[rows])
    return run, info, peers, m, dgp


def masked_problem(lib, g, per, n, k, max_m=None, dg=False, pad=0):
    """pad: the weights' rows K + pad bytes apart (tests/gpu/decode_probe.py)."""
    max_m = max_m or max(per, 16)
    qa, sa = gc.quant_rows(torch.randn(g, max_m, k, device=DEV))
    kb = k // 128
    ld = (max_m + 3) // 4 * 4
    buf = torch.zeros(g, kb, ld, device=DEV)
    buf[:, :, :max_m] = sa.transpose(1, 2)
    qb, sb = gc.quant_blocks(torch.randn(g, n, k, device=DEV))
    if pad:
        wide = torch.empty(g, n, k + pad, device=DEV, dtype=qb.dtype)
        wide[:, :, :k] = qb
        qb = wide[:, :, :k]
    d = torch.empty(g, max_m, n, device=DEV, dtype=torch.bfloat16)
    mm = torch.full((g,), per, dtype=torch.int32, device=DEV)
    run, info = mk_call(lib, mk.GEMM_GROUPED_MASKED, mk.tensor(qa),
                        mk.tensor(buf, shape=[g, max_m, kb], strides=[kb * ld, 1, ld]), mk.tensor(qb), mk.tensor(sb),
                        mk.tensor(d), keep=(qa, buf, qb, sb, d, mm), masked_m=mk.tensor(mm), expected_m=per)
    row_a = torch.ones(g, max_m, device=DEV)
    row_b = torch.ones(g, n, device=DEV)
    peers = {"grouped (row-wise)": lambda: torch._scaled_grouped_mm(qa, qb.transpose(-2, -1), row_a, row_b,
                                                                     out_dtype=torch.bfloat16)}
    dgp = None
    if dg and DG is not None:
        out = torch.empty(g, max_m, n, device=DEV, dtype=torch.bfloat16)
        fn = DG_FN["masked"]
        sa_mn = buf.transpose(1, 2)[:, :max_m]   # [G, max_m, K/128], strides {K/128 * ld, 1, ld}
        dgp = dg_entry("masked",
                       lambda: fn((qa, sa_mn), (qb, sb), out, mm, per, disable_ue8m0_cast=True),
                       lambda: fn((qa, sa), (qb, sb), out, mm, per, disable_ue8m0_cast=True),
                       out, d, lambda t: t[:, :per])
    return run, info, peers, g * n * k * (1 + 4 / (128 * 128)), dgp
