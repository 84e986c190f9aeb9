#!/usr/bin/env python3
"""MoE glue kernels on the GPU against numpy references: fused pre-dispatch
quantization (FP8 1x128 and MXFP4, contiguous and masked layouts, padding
fill, row weights), SwiGLU + FP8 requantization (both gate/up layouts,
skipped rows untouched) and the weighted combine (fp64 reference,
determinism, accumulate). The routing layouts are built here in numpy,
independently of mk_route.

    python3 tests/gpu/moe_check.py --builddir build-gpu [--clamped-builddir build-gpu-clamped]
"""

import argparse
import sys
from pathlib import Path

import ml_dtypes as md
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mk  # noqa: E402
from quant_check import F32, bf16_to_f32, encode, make_input, ref_fp4, ref_fp8  # noqa: E402

CONTIGUOUS, MASKED = 0, 1


# ---- routing layouts, in numpy ------------------------------------------------------------------
def random_routing(m, e, k, rng, local=None):
    ids = np.stack([rng.choice(e, k, replace=False) for _ in range(m)]).astype(np.int32)
    w = rng.random((m, k)).astype(np.float32)
    lo, hi = local or (0, e)
    return ids, w, lo, hi


def contiguous_layout(ids, lo, hi, block_m):
    m, k = ids.shape
    el = hi - lo
    counts = np.zeros(el, np.int64)
    for e in ids.reshape(-1):
        if lo <= e < hi:
            counts[e - lo] += 1
    padded = (counts + block_m - 1) // block_m * block_m
    offsets = np.concatenate([[0], np.cumsum(padded)]).astype(np.int32)
    cap = m * k + min(el, m * k) * (block_m - 1)
    sorted_ids = np.full(cap, m * k, np.int32)
    sorted_experts = np.full(cap, -1, np.int32)
    inverse = np.full((m, k), -1, np.int32)
    fill = offsets[:-1].astype(np.int64).copy()
    for t in range(m):                      # ascending token order inside each expert
        for s in range(k):
            e = ids[t, s]
            if lo <= e < hi:
                r = fill[e - lo]
                fill[e - lo] += 1
                sorted_ids[r] = t * k + s
                inverse[t, s] = r
    for e in range(el):
        sorted_experts[offsets[e]:offsets[e + 1]] = e
    return sorted_ids, sorted_experts, inverse, offsets, cap


def masked_layout(ids, lo, hi, max_m):
    m, k = ids.shape
    counts = np.zeros(hi - lo, np.int32)
    inverse = np.full((m, k), -1, np.int32)
    for t in range(m):
        for s in range(k):
            e = ids[t, s]
            if lo <= e < hi:
                inverse[t, s] = (e - lo) * max_m + counts[e - lo]
                counts[e - lo] += 1
    return inverse, counts


def cuda(a):
    return torch.from_numpy(np.ascontiguousarray(a)).cuda()


def t_(a, dtype=None, shape=None, strides=None):
    return mk.tensor(a, dtype, shape, strides)


# ---- dispatch --------------------------------------------------------------------------------------
def check_dispatch(lib, m, k, e, topk, fmt, layout, rng, block_m=64, local=None):
    x_bits = make_input(m, k, k, rng)
    ids, w, lo, hi = random_routing(m, e, topk, rng, local)
    group = 128 if fmt == "fp8" else 32
    xg = cuda(x_bits.view(np.int16))
    wg = cuda(w)
    if layout == CONTIGUOUS:
        sorted_ids, _, inverse, offsets, rows = contiguous_layout(ids, lo, hi, block_m)
        groups, max_m = 1, rows
    else:
        max_m = m
        inverse, counts = masked_layout(ids, lo, hi, max_m)
        groups, rows = hi - lo, (hi - lo) * max_m
    qcols = k if fmt == "fp8" else k // 2
    q = torch.full((rows, qcols), 0x5A, dtype=torch.uint8, device="cuda")
    rw = torch.full((rows,), -7.0, dtype=torch.float32, device="cuda")
    kb = k // group
    if fmt == "fp8":
        ld = -(-max_m // 4) * 4
        S = kb * ld
        sf = torch.full((groups * S,), -9.0, dtype=torch.float32, device="cuda")
        sf_t = t_(sf, mk.F32, (rows, kb), (1, ld)) if layout == CONTIGUOUS else \
            t_(sf, mk.F32, (groups, max_m, kb), (S, 1, ld))
        q_t = t_(q, mk.E4M3, (rows, k), (k, 1)) if layout == CONTIGUOUS else t_(q, mk.E4M3, (groups, max_m, k), (max_m * k, k, 1))
    else:
        sf = torch.full((rows * kb,), 0xAA, dtype=torch.uint8, device="cuda")
        sf_t = t_(sf, mk.UE8M0, (rows, kb), (kb, 1)) if layout == CONTIGUOUS else \
            t_(sf, mk.UE8M0, (groups, max_m, kb), (max_m * kb, kb, 1))
        q_t = t_(q, mk.E2M1X2, (rows, qcols), (qcols, 1)) if layout == CONTIGUOUS else \
            t_(q, mk.E2M1X2, (groups, max_m, qcols), (max_m * qcols, qcols, 1))
    inv_g = cuda(inverse)
    rw_t = t_(rw, mk.F32, (rows,), (1,)) if layout == CONTIGUOUS else t_(rw, mk.F32, (groups, max_m), (max_m, 1))
    args = lib.args("mk_moe_dispatch_args", layout=layout, x=t_(xg, mk.BF16), inverse=t_(inv_g, mk.I32),
                    topk_weights=t_(wg), q=q_t, scales=sf_t, row_weights=rw_t)
    if layout == CONTIGUOUS:
        ids_g, offs_g = cuda(sorted_ids), cuda(offsets)
        args.sorted_ids, args.expert_offsets = t_(ids_g, mk.I32), t_(offs_g, mk.I32)
    lib.call("mk_moe_dispatch", args)
    torch.cuda.synchronize()
    gq, grw, gsf = q.cpu().numpy(), rw.cpu().numpy(), sf.cpu().numpy()
    rq, rsf = ref_fp8(x_bits, k, False) if fmt == "fp8" else ref_fp4(x_bits, k, 32)
    written = np.zeros(rows, bool)
    for t in range(m):
        for s in range(topk):
            r = inverse[t, s]
            if r < 0:
                continue
            written[r] = True
            if not np.array_equal(gq[r], rq[t]):
                return f"row {r} (token {t}, slot {s}): codes differ from mk_quant's"
            got_sf = gsf[(r // max_m) * S + np.arange(kb) * ld + r % max_m] if fmt == "fp8" else gsf[r * kb:(r + 1) * kb]
            if not np.array_equal(got_sf.view(np.uint32 if fmt == "fp8" else np.uint8),
                                  rsf[t].view(np.uint32 if fmt == "fp8" else np.uint8)):
                return f"row {r}: scales differ"
            if grw[r] != w[t, s]:
                return f"row {r}: row weight {grw[r]} != {w[t, s]}"
    if layout == CONTIGUOUS:
        total = offsets[-1]
        for r in range(rows):
            if written[r]:
                continue
            if r < total:   # padding: zeros
                if gq[r].any() or grw[r] != 0:
                    return f"padding row {r} not zero-filled"
            elif (gq[r] != 0x5A).any() or grw[r] != -7.0:
                return f"row {r} past the rows in use was written"
    else:
        for r in range(rows):
            if not written[r] and ((gq[r] != 0x5A).any() or grw[r] != -7.0):
                return f"masked row {r} beyond masked_m was written"
    return None


# ---- swiglu ------------------------------------------------------------------------------------------
def ref_act(h, inter, clamped, interleaved, alpha=1.702, limit=7.0):
    f = bf16_to_f32(h).astype(np.float64)
    g, u = (f[:, 0::2], f[:, 1::2]) if interleaved else (f[:, :inter], f[:, inter:])
    if clamped:
        g = np.minimum(g, limit)
        u = np.clip(u, -limit, limit)
        return g / (1 + np.exp(-alpha * g)) * (u + 1)
    return g / (1 + np.exp(-g)) * u


def check_swiglu(lib, rows_per_group, groups, inter, layout, clamped, interleaved, rng, listed=False):
    """listed: pass a row list (a third of the rows, shuffled, with entries -1 and past the end): only
    those rows may be written, whatever row_experts / masked_m say."""
    rows = rows_per_group * groups
    h_bits = (rng.standard_normal((rows, 2 * inter)).astype(F32) * 3).view(np.uint32) >> 16
    h_bits = h_bits.astype(np.uint16)
    hg = cuda(h_bits.view(np.int16))
    q = torch.full((rows, inter), 0x5A, dtype=torch.uint8, device="cuda")
    kb = inter // 128
    rpg = rows if layout == CONTIGUOUS else rows_per_group   # rows per scale group: all of them when contiguous
    ld = -(-rpg // 4) * 4
    S = kb * ld
    sf = torch.full((groups * S,), -9.0, dtype=torch.float32, device="cuda")
    if layout == CONTIGUOUS:
        valid = rng.random(rows) < 0.8
        row_exp = np.where(valid, 3, -1).astype(np.int32)
        extra = dict(row_experts=t_(cuda(row_exp), mk.I32))
        keep = [row_exp]
        h_t = t_(hg, mk.BF16, (rows, 2 * inter), (2 * inter, 1))
        q_t = t_(q, mk.E4M3, (rows, inter), (inter, 1))
        sf_t = t_(sf, mk.F32, (rows, kb), (1, ld))
    else:
        mm = rng.integers(0, rows_per_group + 1, groups).astype(np.int32)
        valid = (np.arange(rows) % rows_per_group) < mm[np.arange(rows) // rows_per_group]
        mmg = cuda(mm)
        keep = [mmg]
        extra = dict(masked_m=t_(mmg, mk.I32))
        h_t = t_(hg, mk.BF16, (groups, rows_per_group, 2 * inter), (rows_per_group * 2 * inter, 2 * inter, 1))
        q_t = t_(q, mk.E4M3, (groups, rows_per_group, inter), (rows_per_group * inter, inter, 1))
        sf_t = t_(sf, mk.F32, (groups, rows_per_group, kb), (S, 1, ld))
    if listed:
        sel = rng.choice(rows, size=max(rows // 3, 1), replace=False)
        lst = rng.permutation(np.concatenate([sel, [-1, rows + 5, -7]])).astype(np.int32)
        valid = np.zeros(rows, dtype=bool)
        valid[sel] = True
        lg = cuda(lst)
        keep.append(lg)
        extra["rows"] = t_(lg, mk.I32)
    args = lib.args("mk_moe_swiglu_args", layout=layout, clamped=int(clamped), interleaved=int(interleaved),
                    alpha=1.702, limit=7.0, h=h_t, q=q_t, scales=sf_t, **extra)
    lib.call("mk_moe_swiglu", args)
    torch.cuda.synchronize()
    del keep
    gq, gsf = q.cpu().numpy(), sf.cpu().numpy()
    act = ref_act(h_bits, inter, clamped, interleaved)
    r_idx = np.arange(rows)
    sf_idx = (r_idx // rpg)[:, None] * S + np.arange(kb)[None, :] * ld + (r_idx % rpg)[:, None]
    gscale = gsf[sf_idx]                                            # [rows, kb]
    if (gq[~valid] != 0x5A).any() or (gscale[~valid] != -9.0).any():
        return "a skipped row was written"
    a = act[valid].reshape(-1, kb, 128)
    amax = np.maximum(np.abs(a).max(axis=2), 1e-4)
    if not np.allclose(gscale[valid], amax / 448, rtol=1e-5, atol=0):
        return "scales differ from amax(act) / 448 by more than 1e-5 relative"
    deq = (gq[valid].view(md.float8_e4m3fn).astype(np.float64).reshape(-1, kb, 128) * gscale[valid][:, :, None])
    # a correctly rounded e4m3 code is within half a step: 2^-4 relative for
    # normals, 2^-10 * scale below 2^-6 * scale; the kernel's fast exp may move
    # a value across a rounding boundary, which costs at most one more step
    bound = np.maximum(np.abs(a) * 2.0 ** -4, (amax / 448)[:, :, None] * 2.0 ** -10)
    ratio = np.abs(deq - a) / bound
    if (ratio > 1.001).mean() > 1e-3 or ratio.max() > 2.1:
        return f"{(ratio > 1.001).mean():.2e} of the codes beyond half a step, worst {ratio.max():.2f} half-steps"
    return None


# ---- combine -------------------------------------------------------------------------------------------
def check_combine(lib, m, e, k, hidden, rng, accumulate):
    ids, w, lo, hi = random_routing(m, e, k, rng, (0, e * 3 // 4))  # a quarter of the experts remote
    _, _, inverse, _, rows = contiguous_layout(ids, lo, hi, 32)
    src_bits = (rng.standard_normal((rows, hidden)).astype(F32)).view(np.uint32) >> 16
    src_bits = src_bits.astype(np.uint16)
    y0 = (rng.standard_normal((m, hidden)).astype(F32)).view(np.uint32) >> 16
    y0 = y0.astype(np.uint16)
    srcg, invg, wg = cuda(src_bits.view(np.int16)), cuda(inverse), cuda(w)
    outs = []
    for _ in range(2):
        y = cuda(y0.view(np.int16))
        args = lib.args("mk_moe_combine_args", accumulate=int(accumulate), src=t_(srcg, mk.BF16),
                        inverse=t_(invg, mk.I32), weights=t_(wg), y=t_(y, mk.BF16))
        lib.call("mk_moe_combine", args)
        torch.cuda.synchronize()
        outs.append(y.cpu().numpy().view(np.uint16))
    if not np.array_equal(outs[0], outs[1]):
        return "two runs differ: not deterministic"
    src = bf16_to_f32(src_bits).astype(np.float64)
    ref = bf16_to_f32(y0).astype(np.float64) if accumulate else np.zeros((m, hidden))
    for s in range(k):
        r = inverse[:, s]
        ok = r >= 0
        ref[ok] += w[ok, s][:, None] * src[r[ok]]
    got = bf16_to_f32(outs[0]).astype(np.float64)
    err = np.abs(got - ref) - (2.0 ** -8) * np.abs(ref) - 1e-6
    if (err > 0).any():
        i = np.unravel_index(np.argmax(err), err.shape)
        return f"y{i}: {got[i]} vs fp64 {ref[i]} (beyond one bf16 rounding)"
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default="build-gpu")
    ap.add_argument("--clamped-builddir", default=None, help="a library built with activation.kind = swiglu_clamped")
    a = ap.parse_args()
    lib = mk.Library(a.builddir)
    seed = int.from_bytes(np.random.bytes(4), "little")
    rng = np.random.default_rng(seed)
    print(f"# moe_check: library {lib.model}, seed {seed}")
    hidden = int(next(x for x in (7168, 4096, 2048) if lib.has(6, k=x)))
    inter = int(next(x for x in (2048, 1536, 768) if lib.has(7, k=x)))
    cases = []
    for m in (1, 5, 130, 700):
        for fmt in ("fp8", "mxfp4"):
            for layout in (CONTIGUOUS, MASKED):
                local = None if layout == CONTIGUOUS or m % 2 else (16, 48)
                cases.append((f"dispatch {fmt} {'contiguous' if layout == CONTIGUOUS else 'masked'} M={m}",
                              lambda m=m, f=fmt, l=layout, lc=local: check_dispatch(lib, m, hidden, 64, 8, f, l, rng,
                                                                                     local=lc)))
    for layout in (CONTIGUOUS, MASKED):
        for il in (False, True):
            cases.append((f"swiglu {'contiguous' if layout == CONTIGUOUS else 'masked'} interleaved={il}",
                          lambda l=layout, il=il: check_swiglu(lib, 77, 6, inter, l, False, il, rng)))
        cases.append((f"swiglu {'contiguous' if layout == CONTIGUOUS else 'masked'} row list",
                      lambda l=layout: check_swiglu(lib, 77, 6, inter, l, False, False, rng, listed=True)))
    if a.clamped_builddir:
        clib = mk.Library(a.clamped_builddir)
        cinter = int(next(x for x in (2048, 1024, 768) if clib.has(7, k=x)))
        for il in (False, True):
            cases.append((f"swiglu clamped masked interleaved={il}",
                          lambda il=il: check_swiglu(clib, 50, 4, cinter, MASKED, True, il, rng)))
    for m in (1, 64, 1000):
        for acc in (False, True):
            cases.append((f"combine M={m} accumulate={acc}",
                          lambda m=m, acc=acc: check_combine(lib, m, 32, 8, hidden, rng, acc)))
    failures = 0
    for name, fn in cases:
        try:
            problem = fn()
        except Exception as ex:  # noqa: BLE001
            problem = f"{type(ex).__name__}: {ex}"
        print(("FAIL " if problem else "PASS ") + f"moe {name}" + (f": {problem}" if problem else ""))
        failures += bool(problem)
    print(f"# moe_check: {len(cases) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
