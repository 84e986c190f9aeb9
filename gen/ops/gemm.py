"""Block-scaled FP8 GEMMs (sm_90a): which kernel configurations to build.

The GEMMs a manifest implies are the grouped gate/up and down GEMMs of
Manifest.gemm_shapes() (N, K, experts per rank) plus the dense shapes listed
under [gemm] dense ("NxK"). For each (kind, N, K) the generator scores every
candidate configuration with the cost model of the C API
(mk__gemm_cost in include/moekit/api/impl_gemm.h, ported below line for
line) at a few representative problem sizes, and builds each size's winner:
the C API then runs the same model over what was built. [gemm] configs =
"minimal" builds one winner per (kind, N, K) (CI and quick starts).

Only manifests whose quant.recipe is fp8_1x128 get these GEMMs, and only for
sm_90a (the sm_100a GEMMs are another family).
"""

from __future__ import annotations

import dataclasses
import math

from ..instance import ARCH_TOKEN, Instance

KINDS = ("dense", "grouped_contiguous", "grouped_masked")  # mk_gemm_kind order
VARIANT_SWAP_AB = 4   # MK__GEMM_SWAP_AB   (include/moekit/api/internal.h)
VARIANT_MCAST_A = 8   # MK__GEMM_MCAST_A
VARIANT_MCAST_B = 16  # MK__GEMM_MCAST_B
SMEM_BYTES = 232448   # kSm90SmemBytes
MAX_STAGES = 16
TILE_SLOTS = 4
SMS = 132             # H100 SXM: the machine the model is written for

# Normal orientation: BLOCK_N <= 128 + gcd(BLOCK_N, 128) (a tile never spans
# three 128-column scale blocks), 192 at most (registers of two f32 tiles).
NORMAL_BN = (16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 192)
SWAP_BM = (16, 32, 64)   # token tiles of the swap-AB orientation
DEFAULT_ALIGN = 128      # contiguous segments: mk_gemm_fp8_args.group_align = 0

# Representative problems: M (dense), rows of A (contiguous), rows per group (masked).
REPRESENTATIVE = {
    "dense": (16, 64, 128, 256, 512, 1024, 2048, 4096, 8192),
    "grouped_contiguous": (1024, 4096, 16384, 65536),
    "grouped_masked": (1, 4, 16, 32, 64, 128, 256, 512, 1024),
}
MINIMAL = {"dense": (4096,), "grouped_contiguous": (8192,), "grouped_masked": (16,)}
# Masked decode: M tokens reach about min(E, M * top_k) experts with one row
# each (the layer passes that as expected_groups): the few-group problems.
DECODE_TOKENS = (1, 2, 4, 8)


@dataclasses.dataclass(frozen=True)
class Config:
    block_m: int      # token (D row) tile
    block_n: int      # weight (D column) tile
    swap_ab: bool
    mcast: str        # "" (no cluster), "a" (2 CTAs share A), "b" (2 CTAs share B)

    @property
    def cluster(self):
        return 2 if self.mcast else 1


def ceil_div(a, b):
    return (a + b - 1) // b


def align_up(x, a):
    return ceil_div(x, a) * a


def smem_bytes(c: Config, k: int, stages: int) -> int:
    """sm90_fp8_cfg::kSmemBytes."""
    kb = k // 128
    straddle = not c.swap_ab and 128 % c.block_n != 0
    sfb_floats = kb * (2 if straddle else 1)
    per_stage = c.block_m * 128 + c.block_n * 128 + align_up(c.block_m * 4, 128)
    off_sfb = align_up(c.block_m * c.block_n * 2, 1024) + stages * per_stage + TILE_SLOTS * 16
    off_bars = align_up(off_sfb + TILE_SLOTS * sfb_floats * 4, 8)
    return off_bars + (2 * stages + 3 * TILE_SLOTS + 2) * 8 + 16 + 1024


def stages_for(c: Config, k: int) -> int:
    s = MAX_STAGES
    while s >= 2 and smem_bytes(c, k, s) > SMEM_BYTES:
        s -= 1
    return s


def cost(kind: str, m: int, groups: int, n: int, k: int, c: Config, sms: int = SMS):
    """mk__gemm_cost: (estimated cycles, compute part)."""
    kb = k // 128
    m_rows = max(m, 1)
    pair_n = c.cluster == 2 and c.mcast == "a"
    pair_m = c.cluster == 2 and c.mcast == "b"
    n_blocks = ceil_div(ceil_div(n, c.block_n), 2 if pair_n else 1) * (2 if pair_n else 1)
    m_per_group = ceil_div(ceil_div(m_rows, c.block_m), 2 if pair_m else 1) * (2 if pair_m else 1)
    m_blocks = groups * m_per_group if kind == "grouped_masked" else m_per_group
    tiles = m_blocks * n_blocks
    ctas = (sms // c.cluster) * c.cluster or c.cluster
    waves = ceil_div(tiles, ctas)
    active = min(tiles, ctas)
    mma_n = c.block_m if c.swap_ab else c.block_n
    halves = 2 if not c.swap_ab and c.block_m == 256 else 1
    wgs = c.block_n // 64 if c.swap_ab else c.block_m // 64 // halves
    mma = 64.0 * mma_n * 128.0 * 2.0 / 8192.0
    mma_wg = max(mma, 64.0)
    promote = mma_n / 2.0 + (mma_n / 4.0 if c.swap_ab else 0.0) + 40.0
    math_kb = halves * (mma_wg + promote if wgs == 1 else max(wgs * mma_wg, mma_wg + promote))
    rows_loaded = float(c.block_m + c.block_n)
    if c.cluster == 2:
        share = 1.0
        if kind == "grouped_contiguous" and c.mcast == "b":  # B shared inside one expert only
            per = ceil_div(m_rows, c.block_m) / float(groups if groups > 0 else 1)
            share = min(1.0, max(0.0, 2.0 * (per - 1.5)))
        rows_loaded -= (c.block_m if c.mcast == "a" else c.block_n * share) / 2.0
    dense = kind == "dense"  # the dense fit of run 8; grouped kinds keep the layer's (gemm_cost.h)
    l2 = rows_loaded * 128.0 / (56.0 if dense else 48.0)  # MK__GEMM_[DENSE_]L2_BYTES_PER_CLK
    m_side = c.block_n if c.swap_ab else c.block_m
    smem = (c.block_m + c.block_n + max(m_side, 64) + mma_n) * 128.0 / 128.0
    hidden = 1200.0 / max(stages_for(c, k) - 1, 1)
    tile = kb * (max(math_kb, l2, smem, hidden) + (0.2 if dense else 0.1) * l2) + 1500.0  # MK__GEMM_[DENSE_]L2_CONTENTION
    if c.cluster == 2:
        tile *= 1.05 * 1.25 if waves <= 1 else 1.05
    t_compute = waves * tile
    a_rows = groups * m_rows if kind == "grouped_masked" else m_rows
    b_groups = 1
    if kind == "grouped_masked":
        b_groups = groups
    elif kind == "grouped_contiguous":
        b_groups = min(ceil_div(m_rows, c.block_m), groups)
    nbytes = a_rows * k * (1.0 + 4.0 / 128.0) + b_groups * n * k + a_rows * n * 2.0
    if dense:
        nbytes += min(active * c.block_m * c.block_n * 2.0, m_rows * n * 2.0)  # the last wave's D stores, exposed
    t_hbm = nbytes / min(active * 32.0, 1900.0) * (1.05 if dense and c.cluster == 2 else 1.0)  # MK__GEMM_PAIR_HBM
    return max(t_compute, t_hbm), t_compute


def candidates(kind: str, n: int, k: int):
    out = []
    for bm in (64, 128, 256):
        for bn in NORMAL_BN:
            if bm == 256 and bn > 128:
                continue  # registers: two 128-row waves of accumulators plus one product
            for mc in ("", "a", "b"):
                if mc == "b" and kind == "grouped_masked":
                    continue  # masked clusters share A only (sched/sm90_gemm.cuh)
                out.append(Config(bm, bn, False, mc))
    for bn in (64, 128):
        for bm in SWAP_BM:
            for mc in ("", "a"):
                out.append(Config(bm, bn, True, mc))
    return [c for c in out if stages_for(c, k) >= (3 if c.block_m == 256 else 2) and
            (kind != "grouped_contiguous" or DEFAULT_ALIGN % c.block_m == 0)]


def swap_first(kind, m):
    """mk__gemm_swap_first: masked decode ties go to swap-AB tiles."""
    return kind == "grouped_masked" and m <= 16


def best(kind, m, groups, n, k, cands):
    """The C API's choice: lowest cost, then swap-AB for masked decode, then lowest compute, then first."""
    win, key = None, None
    for c in cands:
        t, comp = cost(kind, m, groups, n, k, c)
        kc = (t, 0 if c.swap_ab or not swap_first(kind, m) else 1, comp)
        if key is None or kc < key:
            win, key = c, kc
    return win


def _kind_shapes(m):
    """{kind: {(n, k): sorted group counts}} for the manifest."""
    out = {kind: {} for kind in KINDS}
    for s in m.gemm_shapes():
        for kind in ("grouped_contiguous", "grouped_masked"):
            out[kind].setdefault((s.n, s.k), set()).add(s.groups)
    for n, k in m.dense_gemm_shapes():
        out["dense"].setdefault((n, k), set()).add(1)
    return {kind: {nk: sorted(g) for nk, g in shapes.items()} for kind, shapes in out.items()}


def instances(m, archs):
    if m.quant["recipe"] != "fp8_1x128" or "sm_90a" not in archs:
        return []
    arch = "sm_90a"
    reps = MINIMAL if m.gemm["configs"] == "minimal" else REPRESENTATIVE
    out = []
    for kind, shapes in _kind_shapes(m).items():
        for (n, k), group_counts in sorted(shapes.items()):
            cands = candidates(kind, n, k)
            chosen = []
            problems = [(rows, groups) for groups in group_counts for rows in reps[kind]]
            if kind == "grouped_masked" and reps is REPRESENTATIVE:
                problems += [(1, t * m.model["top_k"]) for groups in group_counts for t in DECODE_TOKENS
                             if t * m.model["top_k"] < groups]
            for rows, groups in problems:
                c = best(kind, rows, groups, n, k, cands)
                if c is not None and c not in chosen:
                    chosen.append(c)
            if kind == "grouped_masked" and reps is REPRESENTATIVE:
                # NOTE: decode with one weight warpgroup per tile (twice the
                # tiles, a shorter last wave): the model cannot rank it against
                # two warpgroups, so both are built and the bench decides
                one_wg = [c for c in cands if c.swap_ab and c.block_n == 64]
                for t in DECODE_TOKENS[:1]:
                    for groups in group_counts:
                        c = best(kind, 1, min(groups, t * m.model["top_k"]), n, k, one_wg)
                        if c is not None and c not in chosen:
                            chosen.append(c)
            for c in _extra_configs(m, kind, n, k):
                if c not in chosen:
                    chosen.append(c)
            for c in chosen:
                out.append(_instance(kind, n, k, c, arch))
    return out


def _extra_configs(m, kind, n, k):
    """[gemm] extra entries of this kind that are valid for (N, K)."""
    out = []
    valid = candidates(kind, n, k)
    for v in m.gemm["extra"]:
        ekind, tile, *opt = v.split(":")
        if ekind != kind:
            continue
        bm, bn = (int(x) for x in tile.split("x"))
        o = opt[0] if opt else ""
        c = Config(bm, bn, o.startswith("swap"), {"": "", "a": "a", "b": "b", "swap": "", "swap-a": "a"}[o])
        if c in valid:
            out.append(c)
    return out


def _instance(kind, n, k, c: Config, arch):
    stages = stages_for(c, k)
    mc = {"": "mc1", "a": "mc2a", "b": "mc2b"}[c.mcast]
    name = (f"gemm_fp8b128_{kind}_{ARCH_TOKEN[arch]}_bf16out_n{n}_k{k}_bm{c.block_m}_bn{c.block_n}_st{stages}"
            f"_{mc}_swapab{int(c.swap_ab)}")
    variant = KINDS.index(kind) | (VARIANT_SWAP_AB if c.swap_ab else 0) | \
        (VARIANT_MCAST_A if c.mcast == "a" else 0) | (VARIANT_MCAST_B if c.mcast == "b" else 0)
    ctx = {"kind": KINDS.index(kind), "n": n, "k": k, "block_m": c.block_m, "block_n": c.block_n,
           "stages": stages, "cluster_m": 2 if c.mcast == "b" else 1, "cluster_n": 2 if c.mcast == "a" else 1,
           "swap_ab": "true" if c.swap_ab else "false"}
    return Instance(name=name, family="gemm", op="GEMM_FP8", template="gemm.cu.j2", arch=arch, ctx=ctx,
                    n=n, k=k, variant=variant, block_m=c.block_m, block_n=c.block_n, stages=stages)


def check(inst):
    c = inst.ctx
    if c["k"] % 128:
        return f"K = {c['k']} is not a multiple of 128 (the scale block)"
    if c["n"] % 8:
        return f"N = {c['n']} is not a multiple of 8"
    bm, bn = c["block_m"], c["block_n"]
    if c["swap_ab"] == "true":
        if bn not in (64, 128) or bm % 16 or not 16 <= bm <= 256:
            return f"swap-AB tile {bm}x{bn}: weights 64 or 128, tokens a multiple of 16 up to 256"
    else:
        if bm not in (64, 128, 256) or bn % 16 or not 16 <= bn <= 192 or bn > 128 + math.gcd(bn, 128) or \
                (bm == 256 and bn > 128):
            return (f"tile {bm}x{bn}: block_m 64, 128 or 256, block_n a multiple of 16 up to 192 (128 with "
                    f"block_m 256) spanning <= 2 scale blocks")
    if c["stages"] < 2:
        return "fewer than two pipeline stages fit in shared memory"
    return None
