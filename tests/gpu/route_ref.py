"""Independent numpy reference of mk_route (docs/route.md) and the checks that
tests/gpu/route_check.py (GPU) and tests/host/test_route_emu.py (CPU
emulation of the kernels) run on its outputs. numpy only (ml_dtypes for bf16).

    case = Case(kind="sigmoid_grouped", experts=256, top_k=8, m=64, ...)
    logits, bias = make_inputs(case)            # numpy arrays in the case's dtype
    problems, stats = check(case, logits, bias, outs)

How the outputs are judged:
  * ids: the reference selects in float64 with the documented rules (NaN = -inf,
    ties to the lower index). Softmax kinds select on the logits themselves,
    so ids must match exactly. sigmoid_grouped scores are computed (exp), so a
    token whose ids differ is accepted only if the GPU's choice is a valid
    top-k under a perturbation of the scores of at most `TIE_TOL` (a near
    tie); such tokens are counted and reported.
  * weights: reference from the GPU's ids, float64, except that the softmax
    exponent x - max is rounded to f32 as the kernel does (that rounding is
    the documented formula, not an error); within 1e-6 relative (absolute
    1e-38 for weights below f32's normal range).
  * layouts: built exactly from the GPU's topk ids; every entry must match
    (masked_ids: rows below the count).
"""

from __future__ import annotations

import dataclasses

import numpy as np

KINDS = {"softmax": 1, "softmax_after_topk": 2, "sigmoid_grouped": 3}
DTYPES = ("bf16", "f16", "f32")
PATTERNS = ("random", "ties", "equal", "neginf", "nan", "huge", "one_expert")
TIE_TOL = 2e-6
RTOL, ATOL = 1e-6, 1e-38
FLT_MAX = float(np.finfo(np.float32).max)


@dataclasses.dataclass
class Case:
    kind: str
    experts: int
    top_k: int
    m: int
    dtype: str = "bf16"
    renormalize: bool = True
    n_group: int = 1
    topk_group: int = 1
    scale: float = 1.0
    block_m: int = 64
    start: int = 0
    end: int = 0            # 0: all experts
    pattern: str = "random"
    seed: int = 0
    bias: bool = True       # sigmoid_grouped: pass a bias
    extra_rows: int = 5     # sorted_ids / sorted_experts longer than the capacity by this
    extra_blocks: int = 3
    extra_max_m: int = 2    # masked_ids has max_m = m + this

    @property
    def local(self):
        return (self.end or self.experts) - self.start

    @property
    def stop(self):
        return self.end or self.experts

    @property
    def capacity(self):
        pairs = self.m * self.top_k
        return pairs + min(self.local, pairs) * (self.block_m - 1)

    def name(self):
        s = f"{self.kind}_e{self.experts}_k{self.top_k}_m{self.m}_{self.dtype}_bm{self.block_m}_{self.pattern}"
        if self.kind == "sigmoid_grouped" and self.n_group > 1:
            s += f"_g{self.n_group}of{self.topk_group}"
        if self.start or self.end:
            s += f"_ep{self.start}-{self.stop}"
        if not self.renormalize:
            s += "_norenorm"
        return s


# ---- inputs ----------------------------------------------------------------------------------
def np_dtype(name):
    if name == "bf16":
        import ml_dtypes
        return ml_dtypes.bfloat16
    return {"f16": np.float16, "f32": np.float32}[name]


def make_inputs(case: Case):
    """Logits [m, E] in the case's dtype and a f32 bias [E] (or None)."""
    rng = np.random.default_rng(case.seed)
    m, e = case.m, case.experts
    x = rng.normal(0.0, 2.0, size=(m, e)).astype(np.float32)
    if case.pattern == "ties":
        x = rng.integers(-2, 3, size=(m, e)).astype(np.float32)
    elif case.pattern == "equal":
        x = np.full((m, e), 0.5, np.float32)
    elif case.pattern == "neginf":
        x[rng.random((m, e)) < 0.4] = -np.inf
        x[0, :] = -np.inf
        if m > 1:
            x[1, : max(1, e - case.top_k + 1)] = -np.inf   # fewer finite logits than top_k
    elif case.pattern == "nan":
        x[rng.random((m, e)) < 0.3] = np.nan
        x[0, :] = np.nan
        if m > 2:
            x[2, ::2] = -np.inf
    elif case.pattern == "huge":
        big = {"bf16": 3.0e38, "f16": 60000.0, "f32": 3.0e38}[case.dtype]
        x = (rng.choice([-1.0, 1.0], size=(m, e)) * big * rng.random((m, e))).astype(np.float32)
        x[rng.random((m, e)) < 0.05] = np.inf
        x[0, :] = np.inf
    elif case.pattern == "one_expert":
        x[:, (case.seed * 7919) % e] = 40.0
    logits = x.astype(np_dtype(case.dtype))
    bias = None
    if case.kind == "sigmoid_grouped" and case.bias:
        bias = rng.normal(0.0, 0.5, size=e).astype(np.float32)
        if case.pattern in ("ties", "equal"):
            bias = np.round(bias * 4) / 4     # exact ties between biased scores too
    return logits, bias


# ---- reference ---------------------------------------------------------------------------------
def _f64(logits):
    return np.asarray(logits).astype(np.float64)


def scores(case: Case, logits, bias):
    """(selection score, value) as float64 [m, E]; NaN logits -> -inf."""
    x = _f64(logits)
    x = np.where(np.isnan(x), -np.inf, x)
    if case.kind != "sigmoid_grouped":
        return x, x
    with np.errstate(over="ignore"):
        s = 1.0 / (1.0 + np.exp(-x))
    sc = s + (bias.astype(np.float64) if bias is not None else 0.0)
    return np.where(np.isnan(sc), -np.inf, sc), s


def grouped_step(case: Case):
    return case.kind == "sigmoid_grouped" and case.topk_group < case.n_group


def group_scores(case: Case, sc):
    gs = case.experts // case.n_group
    g = np.sort(sc.reshape(sc.shape[0], case.n_group, gs), axis=-1)
    with np.errstate(invalid="ignore"):
        out = g[..., -1] + g[..., -2] if gs >= 2 else g[..., -1]
    return np.where(np.isnan(out), -np.inf, out)


def select(case: Case, sc):
    """Reference ids [m, k]: descending score, ties to the lower index; with the
    group step only experts of the topk_group best groups (ties: lower group)."""
    m, e = sc.shape
    excluded = np.zeros((m, e), bool)
    if grouped_step(case):
        gsc = group_scores(case, sc)
        order = np.lexsort((np.broadcast_to(np.arange(case.n_group), gsc.shape), -gsc), axis=-1)
        kept = np.zeros_like(gsc, bool)
        np.put_along_axis(kept, order[:, : case.topk_group], True, axis=-1)
        excluded = ~np.repeat(kept, e // case.n_group, axis=-1)
    idx = np.broadcast_to(np.arange(e), (m, e))
    order = np.lexsort((idx, -sc, excluded), axis=-1)
    return order[:, : case.top_k]


def _near_tie_valid(case: Case, sc_row, ids, tol=TIE_TOL):
    """Is `ids` a top-k of sc_row (with the group rule) once scores may move by tol?"""
    e, k = case.experts, case.top_k
    if len(set(ids.tolist())) != k or ids.min() < 0 or ids.max() >= e:
        return False
    allowed = np.ones(e, bool)
    if grouped_step(case):
        gs = e // case.n_group
        gsc = group_scores(case, sc_row[None, :])[0]
        kth = np.sort(gsc)[::-1][case.topk_group - 1]
        used = set((ids // gs).tolist())
        mandatory = {g for g in range(case.n_group) if gsc[g] > kth + 2 * tol}
        eligible = {g for g in range(case.n_group) if gsc[g] >= kth - 2 * tol}
        if not used <= eligible or len(used | mandatory) > case.topk_group:
            return False
        keep = used | mandatory
        best = sorted(eligible - keep, key=lambda g: sc_row[g * gs:(g + 1) * gs].max())
        keep |= set(best[: case.topk_group - len(keep)])
        allowed = np.repeat(np.array([g in keep for g in range(case.n_group)]), gs)
    s = sc_row[ids]
    if not allowed[ids].all() or np.any(s[1:] > s[:-1] + tol):
        return False
    rest = np.ones(e, bool)
    rest[ids] = False
    rest &= allowed
    return not np.any(sc_row[rest] > s.min() + tol)


def weights(case: Case, logits, bias, ids):
    """Reference weights [m, k] of the given ids (float64)."""
    sc, val = scores(case, logits, bias)
    v = np.take_along_axis(val, ids, axis=-1)
    if case.kind == "sigmoid_grouped":
        w = v / (v.sum(-1, keepdims=True) + 1e-20) if case.renormalize else v
    else:
        clamp = lambda a: np.clip(a, -FLT_MAX, FLT_MAX)
        vmax = clamp(v[:, :1]).astype(np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            d = (clamp(v).astype(np.float32) - vmax).astype(np.float64)   # f32 difference, as the kernel
            ex = np.exp(d)
            if case.kind == "softmax" and not case.renormalize:
                dall = (clamp(val).astype(np.float32) - vmax).astype(np.float64)
                denom = np.exp(dall).sum(-1, keepdims=True)
            else:
                denom = ex.sum(-1, keepdims=True)
        w = ex / denom
    return w * np.float64(np.float32(case.scale))


def layouts(case: Case, ids):
    """Every sorted output, exactly, from topk ids [m, k] (global)."""
    m, k, bm, local = case.m, case.top_k, case.block_m, case.local
    le = ids.astype(np.int64) - case.start
    remote = (ids < case.start) | (ids >= case.stop)
    le[remote] = -1
    flat = le.reshape(-1)
    pair = np.arange(m * k)
    counts = np.bincount(flat[flat >= 0], minlength=local)
    padded = (counts + bm - 1) // bm * bm
    off = np.concatenate([[0], np.cumsum(padded)])
    loc = pair[flat >= 0]
    order = loc[np.lexsort((loc, flat[loc]))]              # by expert, then ascending pair (= token)
    ex_of = flat[order]
    first = np.searchsorted(ex_of, np.arange(local))
    rank = np.arange(len(order)) - first[ex_of]
    rows = off[ex_of] + rank
    max_m = m + case.extra_max_m
    out = {
        "sorted_ids": np.full(case.capacity + case.extra_rows, m * k, np.int64),
        "sorted_experts": np.full(case.capacity + case.extra_rows, -1, np.int64),
        "block_experts": np.full(case.capacity // bm + case.extra_blocks, -1, np.int64),
        "inverse": np.full(m * k, -1, np.int64),
        "masked_inverse": np.full(m * k, -1, np.int64),
        "masked_ids": np.full((local, max_m), -1, np.int64),
    }
    out["sorted_ids"][rows] = order
    out["sorted_experts"][rows] = ex_of
    head = rank % bm == 0
    out["block_experts"][rows[head] // bm] = ex_of[head]
    out["inverse"][order] = rows
    out["masked_inverse"][order] = ex_of * max_m + rank
    out["masked_ids"][ex_of, rank] = order
    out["expert_counts"] = counts
    out["expert_offsets"] = off
    out["remote_count"] = np.array([remote.sum()])
    out["inverse"] = out["inverse"].reshape(m, k)
    out["masked_inverse"] = out["masked_inverse"].reshape(m, k)
    return out


# ---- the check ------------------------------------------------------------------------------------
OUTPUTS = ("topk_ids", "topk_weights", "sorted_ids", "sorted_experts", "block_experts", "expert_offsets", "inverse",
           "expert_counts", "masked_ids", "masked_inverse", "remote_count")


def output_shapes(case: Case):
    m, k, local = case.m, case.top_k, case.local
    return {
        "topk_ids": (m, k), "topk_weights": (m, k),
        "sorted_ids": (case.capacity + case.extra_rows,), "sorted_experts": (case.capacity + case.extra_rows,),
        "block_experts": (case.capacity // case.block_m + case.extra_blocks,), "expert_offsets": (local + 1,),
        "inverse": (m, k), "expert_counts": (local,), "masked_ids": (local, m + case.extra_max_m),
        "masked_inverse": (m, k), "remote_count": (1,),
    }


def check(case: Case, logits, bias, outs: dict):
    """outs: numpy arrays named as OUTPUTS. Returns (problems, stats)."""
    problems, stats = [], {"near_ties": 0, "max_rel_err": 0.0}
    ids = np.asarray(outs["topk_ids"]).astype(np.int64)
    sc, _ = scores(case, logits, bias)
    ref = select(case, sc)
    bad = np.nonzero(np.any(ids != ref, axis=-1))[0]
    for t in bad:
        if case.kind == "sigmoid_grouped" and _near_tie_valid(case, sc[t], ids[t]):
            stats["near_ties"] += 1
            continue
        problems.append(f"topk_ids: token {t}: got {ids[t].tolist()}, reference {ref[t].tolist()}")
        if len(problems) > 5:
            return problems, stats
    if len(bad) > max(2, case.m // 100):
        problems.append(f"topk_ids: {len(bad)} of {case.m} tokens differ from the reference (near ties are rare)")
    if problems:
        return problems, stats
    w = np.asarray(outs["topk_weights"]).astype(np.float64)
    wref = weights(case, logits, bias, ids)
    err = np.abs(w - wref)
    tol = RTOL * np.abs(wref) + ATOL
    if not np.all(np.isfinite(w)) or np.any(err > tol):
        t, j = np.unravel_index(np.argmax(np.where(np.isfinite(w), err - tol, np.inf)), w.shape)
        problems.append(f"topk_weights: token {t} slot {j}: got {w[t, j]!r}, reference {wref[t, j]!r}")
    nz = wref != 0
    if nz.any():
        stats["max_rel_err"] = float(np.max(err[nz] / np.abs(wref[nz])))
    lay = layouts(case, ids)
    for name, want in lay.items():
        got = np.asarray(outs[name]).astype(np.int64).reshape(want.shape)
        if name == "masked_ids":
            mask = np.arange(want.shape[1])[None, :] < lay["expert_counts"][:, None]
            diff = np.nonzero(mask & (got != want))
        else:
            diff = np.nonzero(got != want)
        if len(diff[0]):
            at = tuple(int(d[0]) for d in diff)
            problems.append(f"{name}: {len(diff[0])} entries differ, first at {at}: got {got[at]}, want {want[at]}")
    return problems, stats


# ---- case lists ---------------------------------------------------------------------------------------
def grouped_params(experts, top_k):
    """DeepSeek-like groups for an expert count: (n_group, topk_group)."""
    for n_group in (8, 4, 2):
        if experts % n_group == 0 and experts // n_group >= 2:
            topk_group = max(1, n_group // 2)
            while topk_group * (experts // n_group) < top_k:
                topk_group += 1
            if topk_group <= n_group:
                return n_group, topk_group
    return 1, 1
