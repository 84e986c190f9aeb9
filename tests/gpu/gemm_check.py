#!/usr/bin/env python3
"""Correctness of the FP8 block-scaled GEMMs on a GPU (H100 / H200).

    python3 tests/gpu/gemm_check.py --builddir build [-k SUBSTRING] [--seed 0] [--timeout 30]

For the instance library in --builddir (every GEMM it holds):
  1. every instance, forced by name (mk_gemm_fp8_args.kernel), on its kind's
     cases: dense M in {1, 65, 333, 1029}; contiguous with uneven experts
     (empty ones included), -1 padding rows, trailing padding blocks, segment
     alignment 128 and block_m; masked with masked_m from 0 to max_m;
     each with overlap signals on;
  2. the heuristic's choice for every (kind, N, K): M from 1 to 8192;
  3. the signals: a counter equals the threshold on computed row blocks, 0
     elsewhere;
  4. the layout contract with mk_quant_fp8 (its scales feed the GEMM as they
     are), where the library has the quantization instance for K;
  5. CUDA graphs: a masked call captured once and replayed after masked_m
     was rewritten on the device (zeros, full, mixed), for every masked
     (N, K).
Reference: the FP8 operands dequantized with their scales, multiplied in
fp32 (TF32 off). Inputs are fresh random values with per-row and per-block
magnitudes spread over 2^-4 .. 2^4, so a misplaced scale shows. Outputs are
poisoned with NaN first: rows the call must compute must be finite and
match, rows it must not write must still be NaN.
Pass: calc_diff = 1 - 2 sum(x y) / sum(x^2 + y^2) < 1e-3 (float64) per case.
Exit status 1 on any failure, 3 when a case hangs (> --timeout seconds; the
case is printed before it starts). About a minute on an H100 for the
deepseek-v3 library.
"""

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mk  # noqa: E402

import torch  # noqa: E402

KINDS = ("dense", "grouped_contiguous", "grouped_masked")
FP8_MAX = 448.0
DEV = "cuda"


# ---- quantization and reference (torch) ----------------------------------------------------
def spread(shape, groups_along=None):
    """Random values whose magnitude varies by row / block (2^-4 .. 2^4)."""
    x = torch.randn(shape, device=DEV)
    if groups_along is not None:
        x = x * torch.exp2(torch.randint(-4, 5, groups_along, device=DEV).float())
    return x


def quant_rows(x):
    """[..., K] -> e4m3 [..., K], f32 scales [..., K/128] (per token, 1x128)."""
    *lead, k = x.shape
    g = x.reshape(*lead, k // 128, 128)
    amax = g.abs().amax(-1).clamp(min=1e-4)
    scale = amax / FP8_MAX
    q = (g / scale.unsqueeze(-1)).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn).reshape(*lead, k)
    return q, scale.float()


def quant_blocks(w):
    """[G, N, K] -> e4m3 [G, N, K], f32 scales [G, ceil(N/128), K/128] (128x128 blocks)."""
    g, n, k = w.shape
    nb = (n + 127) // 128
    wp = torch.zeros(g, nb * 128, k, device=DEV)
    wp[:, :n] = w
    blk = wp.reshape(g, nb, 128, k // 128, 128)
    amax = blk.abs().amax((2, 4)).clamp(min=1e-4)
    scale = amax / FP8_MAX
    q = (blk / scale[:, :, None, :, None]).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
    return q.reshape(g, nb * 128, k)[:, :n].contiguous(), scale.float()


def deq_rows(q, scale):
    return q.float() * scale.repeat_interleave(128, -1)


def deq_blocks(q, scale):
    n = q.shape[-2]
    s = scale.repeat_interleave(128, -2)[..., :n, :].repeat_interleave(128, -1)
    return q.float() * s


def calc_diff(x, y):
    x, y = x.double(), y.double()
    den = (x * x + y * y).sum()
    if den == 0:
        return 0.0
    return float(1 - 2 * (x * y).sum() / den)


def mn_major(scale2d):
    """f32 [M, KB] -> (storage, shape, strides) MN-major {1, ld}, ld = align(M, 4)."""
    m, kb = scale2d.shape
    ld = (m + 3) // 4 * 4
    buf = torch.zeros(kb, ld, device=DEV)
    buf[:, :m] = scale2d.t()
    return buf, [m, kb], [1, ld]


# ---- one call ------------------------------------------------------------------------------
class Failure(Exception):
    pass


class Checker:
    def __init__(self, lib, args):
        self.lib = lib
        self.timeout = args.timeout
        self.passed = 0
        self.failed = []
        self.current = None
        threading.Thread(target=self._watchdog, daemon=True).start()

    def _watchdog(self):
        while True:
            time.sleep(1.0)
            cur = self.current
            if cur and time.time() - cur[1] > self.timeout:
                print(f"HANG {cur[0]} (> {self.timeout}s): the kernel did not finish", flush=True)
                os._exit(3)

    def case(self, name, fn):
        self.current = (name, time.time())
        try:
            msg = fn()
            torch.cuda.synchronize()
            self.passed += 1
            print(f"ok   {name} {msg or ''}", flush=True)
        except (Failure, mk.MkError, RuntimeError) as e:
            torch.cuda.synchronize()
            self.failed.append(name)
            print(f"FAIL {name}: {e}", flush=True)
        finally:
            self.current = None

    def run(self, kind, a, sfa, b, sfb, d, m_indices=None, masked_m=None, expected_m=0, group_align=0,
            signal=None, kernel=None, num_sms=0):
        args = self.lib.args("mk_gemm_fp8_args", kind=kind, a=a, a_scales=sfa, b=b, b_scales=sfb, d=d, num_sms=num_sms,
                             m_indices=m_indices if m_indices is not None else mk.Tensor(),
                             masked_m=masked_m if masked_m is not None else mk.Tensor(),
                             expected_m=expected_m, group_align=group_align,
                             signal=signal if signal is not None else mk.Tensor(),
                             kernel=kernel.encode() if kernel else None)
        info = self.lib.query("mk_gemm_fp8_query", args, "mk_gemm_fp8_info")
        self.lib.call("mk_gemm_fp8", args, stream=torch.cuda.current_stream().cuda_stream)
        return info


def check_close(out, ref, what):
    if not torch.isfinite(out).all():
        bad = (~torch.isfinite(out)).nonzero()[:4].tolist()
        raise Failure(f"{what}: non-finite values in rows the call must write, e.g. at {bad}")
    diff = calc_diff(out.float(), ref)
    if not diff < 1e-3:
        raise Failure(f"{what}: calc_diff {diff:.3e} >= 1e-3")
    return diff


def check_untouched(out, what):
    if out.numel() and not torch.isnan(out.float()).all():
        raise Failure(f"{what}: rows the call must not write were written")


def check_signal(sig, want, what):
    if not torch.equal(sig.cpu(), want.cpu()):
        bad = (sig.cpu() != want.cpu()).nonzero().flatten()[:6].tolist()
        raise Failure(f"{what}: signal counters differ at {bad}: got {sig.cpu()[bad].tolist()}, "
                      f"want {want.cpu()[bad].tolist()}")


# ---- the three kinds ---------------------------------------------------------------------------
def run_dense(ck, n, k, m, kernel=None, with_signal=True, num_sms=0):
    x = spread((m, k), (m, 1))
    qa, sa = quant_rows(x)
    qb, sb = quant_blocks(spread((1, n, k), (1, n, 1)))
    qb, sb = qb[0], sb[0]
    ref = deq_rows(qa, sa) @ deq_blocks(qb, sb).t()
    d = torch.full((m, n), float("nan"), device=DEV, dtype=torch.bfloat16)
    sbuf, sshape, sstrides = mn_major(sa)
    sig = torch.zeros(m + 64, dtype=torch.int32, device=DEV) if with_signal else None
    info = ck.run(mk.GEMM_DENSE, mk.tensor(qa), mk.tensor(sbuf, shape=sshape, strides=sstrides), mk.tensor(qb),
                  mk.tensor(sb), mk.tensor(d), signal=mk.tensor(sig) if with_signal else None, kernel=kernel,
                  num_sms=num_sms)
    torch.cuda.synchronize()
    diff = check_close(d, ref, "D")
    if with_signal:
        want = torch.zeros_like(sig)
        want[:info.num_signals] = info.signal_threshold
        check_signal(sig, want, "signal")
    return f"diff={diff:.1e} [{info.kernel.decode()}]"


def contiguous_layout(counts, align, tail_blocks=2):
    """m_indices for experts of `counts` rows, segments aligned to `align`, plus padding blocks."""
    idx = []
    for e, c in enumerate(counts):
        rows = (c + align - 1) // align * align
        idx += [e] * c + [-1] * (rows - c)
    idx += [-1] * (tail_blocks * align)
    return torch.tensor(idx, dtype=torch.int32, device=DEV)


def run_contiguous(ck, n, k, counts, align=128, kernel=None, num_sms=0):
    g = len(counts)
    m_indices = contiguous_layout(counts, align)
    m = m_indices.numel()
    x = spread((m, k), (m, 1))
    qa, sa = quant_rows(x)
    qb, sb = quant_blocks(spread((g, n, k), (g, n, 1)))
    d = torch.full((m, n), float("nan"), device=DEV, dtype=torch.bfloat16)
    sbuf, sshape, sstrides = mn_major(sa)
    sig = torch.zeros(m + 64, dtype=torch.int32, device=DEV)
    info = ck.run(mk.GEMM_GROUPED_CONTIGUOUS, mk.tensor(qa), mk.tensor(sbuf, shape=sshape, strides=sstrides),
                  mk.tensor(qb), mk.tensor(sb), mk.tensor(d), m_indices=mk.tensor(m_indices),
                  group_align=align if align != 128 else 0, signal=mk.tensor(sig), kernel=kernel, num_sms=num_sms)
    torch.cuda.synchronize()
    bm = info.block_m
    a_deq = deq_rows(qa, sa)
    valid = m_indices >= 0
    ref = torch.zeros(m, n, device=DEV)
    for e in range(g):
        rows = (m_indices == e).nonzero().flatten()
        if rows.numel():
            ref[rows] = a_deq[rows] @ deq_blocks(qb[e], sb[e]).t()
    diff = check_close(d[valid], ref[valid], "D valid rows")
    first = m_indices[::bm] >= 0                       # computed blocks: first row is an expert's
    skipped_rows = (~first).repeat_interleave(bm)[:m]
    check_untouched(d[skipped_rows], "D rows of skipped padding blocks")
    want = torch.zeros_like(sig)
    want[:first.numel()] = first.int() * info.signal_threshold
    check_signal(sig, want, "signal")
    return f"diff={diff:.1e} M={m} [{info.kernel.decode()}]"


def masked_operands(g, max_m, n, k, flat_scales=False):
    """Fresh masked-GEMM operands: A [g, max_m, k] with its scales sa [g, max_m, kb] in an MN-major
    buffer (per group, or of the flattened g * max_m rows), B [g, n, k] with its block scales, D
    poisoned with NaN. Returns qa, sa, the scale buffer, its mk tensor, qb, sb, d."""
    qa, sa = quant_rows(spread((g, max_m, k), (g, max_m, 1)))
    kb = k // 128
    if flat_scales:                                      # the scales of the flattened [g * max_m] rows
        ld = (g * max_m + 3) // 4 * 4
        buf = torch.zeros(kb, ld, device=DEV)
        buf[:, :g * max_m] = sa.reshape(g * max_m, kb).t()
        sfa = mk.tensor(buf, shape=[g, max_m, kb], strides=[max_m, 1, ld])
    else:                                                # per-group MN-major blocks
        ld = (max_m + 3) // 4 * 4
        buf = torch.zeros(g, kb, ld, device=DEV)
        buf[:, :, :max_m] = sa.transpose(1, 2)
        sfa = mk.tensor(buf, shape=[g, max_m, kb], strides=[kb * ld, 1, ld])
    qb, sb = quant_blocks(spread((g, n, k), (g, n, 1)))
    d = torch.full((g, max_m, n), float("nan"), device=DEV, dtype=torch.bfloat16)
    return qa, sa, buf, sfa, qb, sb, d


def run_masked(ck, n, k, max_m, masked, kernel=None, expected_m=0, flat_scales=False, num_sms=0):
    g = len(masked)
    qa, sa, buf, sfa, qb, sb, d = masked_operands(g, max_m, n, k, flat_scales)
    mm = torch.tensor(masked, dtype=torch.int32, device=DEV)
    sig = torch.zeros(g * max_m + 64, dtype=torch.int32, device=DEV)
    info = ck.run(mk.GEMM_GROUPED_MASKED, mk.tensor(qa), sfa, mk.tensor(qb), mk.tensor(sb), mk.tensor(d),
                  masked_m=mk.tensor(mm), expected_m=expected_m, signal=mk.tensor(sig), kernel=kernel,
                  num_sms=num_sms)
    torch.cuda.synchronize()
    bm = info.block_m
    per_group = (max_m + bm - 1) // bm
    ref = torch.bmm(deq_rows(qa, sa), deq_blocks(qb, sb).transpose(1, 2))
    outs, refs = [], []
    want = torch.zeros_like(sig)
    for e, c in enumerate(masked):
        outs.append(d[e, :c])
        refs.append(ref[e, :c])
        written = min(max_m, (c + bm - 1) // bm * bm)
        check_untouched(d[e, written:], f"D group {e} rows past its last row block")
        want[e * per_group:e * per_group + (c + bm - 1) // bm] = info.signal_threshold
    diff = check_close(torch.cat(outs), torch.cat(refs), "D valid rows") if sum(masked) else 0.0
    check_signal(sig, want, "signal")
    return f"diff={diff:.1e} [{info.kernel.decode()}]"


def run_masked_graph(ck, lib, n, k, max_m, layouts):
    """The masked GEMM captured once in a CUDA graph, then replayed after masked_m was rewritten in
    place (as routing does between decode steps): every replay must match the reference for the
    counts it finds on the device, and leave the rows past them unwritten."""
    g = len(layouts[0])
    qa, sa, buf, sfa, qb, sb, d = masked_operands(g, max_m, n, k)
    mm = torch.tensor(layouts[0], dtype=torch.int32, device=DEV)
    args = lib.args("mk_gemm_fp8_args", kind=mk.GEMM_GROUPED_MASKED, a=mk.tensor(qa), a_scales=sfa, b=mk.tensor(qb),
                    b_scales=mk.tensor(sb), d=mk.tensor(d), masked_m=mk.tensor(mm), expected_m=max(1, max_m // 4))
    info = lib.query("mk_gemm_fp8_query", args, "mk_gemm_fp8_info")
    lib.call("mk_gemm_fp8", args, stream=torch.cuda.current_stream().cuda_stream)  # warm-up, as a server does
    torch.cuda.synchronize()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=s):
        lib.call("mk_gemm_fp8", args, stream=s.cuda_stream)
    torch.cuda.synchronize()
    ref = torch.bmm(deq_rows(qa, sa), deq_blocks(qb, sb).transpose(1, 2))
    bm = info.block_m
    diffs = []
    for layout in layouts:
        mm.copy_(torch.tensor(layout, dtype=torch.int32))
        d.fill_(float("nan"))
        graph.replay()
        torch.cuda.synchronize()
        for e, c in enumerate(layout):
            check_untouched(d[e, min(max_m, (c + bm - 1) // bm * bm):], f"replay masked_m={layout}: group {e} rows past "
                            f"its last row block")
        if sum(layout):
            diffs.append(check_close(torch.cat([d[e, :c] for e, c in enumerate(layout)]),
                                     torch.cat([ref[e, :c] for e, c in enumerate(layout)]),
                                     f"replay masked_m={layout}"))
    return f"max diff={max(diffs):.1e} over {len(layouts)} replays [{info.kernel.decode()}]"


def run_quant_contract(ck, lib, n, k, m):
    """mk_quant_fp8 -> mk_gemm_fp8 with the scales exactly as quantization wrote them."""
    x = spread((m, k), (m, 1)).bfloat16()
    q = torch.empty(m, k, device=DEV, dtype=torch.float8_e4m3fn)
    ld = (m + 3) // 4 * 4
    sbuf = torch.empty(k // 128, ld, device=DEV)
    sfa = mk.tensor(sbuf, shape=[m, k // 128], strides=[1, ld])
    lib.call("mk_quant_fp8", lib.args("mk_quant_fp8_args", x=mk.tensor(x), q=mk.tensor(q), scales=sfa),
             stream=torch.cuda.current_stream().cuda_stream)
    qb, sb = quant_blocks(spread((1, n, k), (1, n, 1)))
    d = torch.full((m, n), float("nan"), device=DEV, dtype=torch.bfloat16)
    ck.run(mk.GEMM_DENSE, mk.tensor(q), sfa, mk.tensor(qb[0]), mk.tensor(sb[0]), mk.tensor(d))
    torch.cuda.synchronize()
    ref = deq_rows(q, sbuf[:, :m].t()) @ deq_blocks(qb[0], sb[0]).t()
    return f"diff={check_close(d, ref, 'D'):.1e}"


# ---- main ------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--builddir", default="build")
    ap.add_argument("-k", default="", help="only cases whose name contains this")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds before a case counts as hung")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.backends.cuda.matmul.allow_tf32 = False
    lib = mk.Library(a.builddir)
    ck = Checker(lib, a)
    gemms = [e for e in lib.registry() if e["op"] == mk.OP_GEMM_FP8]
    print(f"# {torch.cuda.get_device_name()}, library '{lib.model}': {len(gemms)} GEMM instances", flush=True)
    if not gemms:
        print("# nothing to check")
        return 0
    t0 = time.time()

    def want(name):
        return a.k in name

    # 1. every instance, forced
    for e in gemms:
        kind, n, k, bm, name = KINDS[e["variant"] & 3], e["n"], e["k"], e["block_m"], e["name"]
        if kind == "dense":
            for m in (1, 65, 333, 1029):
                if want(f"{name} M={m}"):
                    ck.case(f"{name} M={m}", lambda m=m: run_dense(ck, n, k, m, kernel=name))
            if want(f"{name} persistent"):  # two SMs walk every tile: rings and phases wrap many times
                ck.case(f"{name} persistent M=700 num_sms=2",
                        lambda: run_dense(ck, n, k, 700, kernel=name, num_sms=2))
        elif kind == "grouped_contiguous":
            cases = [("align128", [0, 1, 200, 0, 77, 333], 128)]
            if bm < 128:
                cases.append((f"align{bm}", [3, 0, bm, 2 * bm + 1, 0, 5], bm))
            for tag, counts, align in cases:
                if want(f"{name} {tag}"):
                    ck.case(f"{name} {tag} counts={counts}",
                            lambda c=counts, al=align: run_contiguous(ck, n, k, c, al, kernel=name))
            if want(f"{name} persistent"):
                ck.case(f"{name} persistent num_sms=2",
                        lambda: run_contiguous(ck, n, k, [100, 0, 300, 5], kernel=name, num_sms=2))
        else:
            max_m = 2 * bm + 40
            masked = [0, max_m, 1, bm, (max_m * 2) // 3]
            if want(f"{name} masked"):
                ck.case(f"{name} masked max_m={max_m} masked_m={masked}",
                        lambda mm=masked, mx=max_m: run_masked(ck, n, k, mx, mm, kernel=name))
            if want(f"{name} flat"):
                mx = 4 * bm
                ck.case(f"{name} flat-scales max_m={mx}",
                        lambda mx=mx: run_masked(ck, n, k, mx, [mx // 2, mx, 0], kernel=name, flat_scales=True))
            if want(f"{name} persistent"):
                ck.case(f"{name} persistent num_sms=2",
                        lambda: run_masked(ck, n, k, 3 * bm, [3 * bm, 0, bm + 1, 2], kernel=name, num_sms=2))

    # 2. the heuristic over M = 1 .. 8192 for every (kind, N, K)
    shapes = sorted({(KINDS[e["variant"] & 3], e["n"], e["k"]) for e in gemms})
    gen = torch.Generator().manual_seed(a.seed)
    for kind, n, k in shapes:
        if kind == "dense":
            for m in (1, 2, 7, 16, 31, 64, 100, 128, 255, 512, 1000, 2048, 4096, 8192):
                if want(f"auto dense N={n} K={k} M={m}"):
                    ck.case(f"auto dense N={n} K={k} M={m}", lambda m=m: run_dense(ck, n, k, m))
        elif kind == "grouped_contiguous":
            for total, g in ((8, 4), (300, 8), (2048, 8), (8192, 8), (8192, 32)):
                counts = torch.multinomial(torch.ones(g), total, replacement=True, generator=gen).bincount(
                    minlength=g).tolist()
                if want(f"auto contiguous N={n} K={k} tokens={total}"):
                    ck.case(f"auto contiguous N={n} K={k} tokens={total} experts={g}",
                            lambda c=counts: run_contiguous(ck, n, k, c))
        else:
            for g, max_m in ((8, 16), (32, 32), (8, 128), (4, 512), (2, 1024), (1, 4096)):
                masked = torch.randint(0, max_m + 1, (g,), generator=gen).tolist()
                masked[0] = max_m
                exp = max(1, sum(masked) // g)
                if want(f"auto masked N={n} K={k} max_m={max_m}"):
                    ck.case(f"auto masked N={n} K={k} groups={g} max_m={max_m} expected_m={exp}",
                            lambda mm=masked, mx=max_m, ex=exp: run_masked(ck, n, k, mx, mm, expected_m=ex))

    # 5. a masked call captured in a CUDA graph, replayed after masked_m changed on the device
    for kind, n, k in shapes:
        if kind == "grouped_masked" and want(f"graph masked N={n} K={k}"):
            layouts = [[3, 0, 16, 1], [16, 16, 0, 0], [0, 0, 0, 0], [1, 9, 2, 16]]
            ck.case(f"graph masked N={n} K={k} max_m=16 (replays: masked_m {layouts})",
                    lambda n=n, k=k, ls=layouts: run_masked_graph(ck, lib, n, k, 16, ls))

    # 4. quantization -> GEMM, scales as written
    quant_ks = {e["k"] for e in lib.registry() if e["op"] == 1 and e["variant"] == 0}
    for kind, n, k in shapes:
        if kind == "dense" and k in quant_ks and want(f"quant-contract N={n} K={k}"):
            ck.case(f"quant-contract N={n} K={k} M=300", lambda n=n, k=k: run_quant_contract(ck, lib, n, k, 300))

    dt = time.time() - t0
    print(f"# {ck.passed} passed, {len(ck.failed)} failed in {dt:.0f}s")
    for f in ck.failed:
        print(f"#   FAILED {f}")
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())
