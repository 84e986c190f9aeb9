/* moekit/api/impl_layer.h - a whole MoE layer from the public entry points
 * (mk_moe_layer_forward) and its float32 reference (mk_moe_layer_reference).
 *
 * The layer is a composition, not a new kernel: route -> dispatch -> gemm ->
 * swiglu -> gemm -> combine, each stage validated by its own entry point,
 * the intermediates carved out of one workspace:
 *
 *   route_ws | topk_ids topk_weights | layout (contiguous: sorted_ids,
 *   sorted_experts, expert_offsets, inverse; masked: expert_counts,
 *   masked_ids, masked_inverse) | q1 sf1 (x in FP8) | h (bf16 [rows, 2I]) |
 *   q2 sf2 (activation in FP8) | o (bf16 [rows, H])
 *
 * rows = the contiguous capacity (block_m 128, the GEMM's group alignment) or
 * E * M (masked, max_m = M).
 */
#ifndef MOEKIT_API_IMPL_LAYER_H
#define MOEKIT_API_IMPL_LAYER_H

#include "moekit/api/impl_core.h"

#define MK__LAYER_BLOCK_M 128     /* contiguous rows per expert segment: the sm90 GEMM's group_align */
/* AUTO takes the masked layout while experts get few tokens each (padding
 * every expert to 128 rows would cost more than it saves) and its [E, M, .]
 * buffers stay moderate. H200 measurements (docs/perf.md, layer paths):
 * masked was faster at every M from 32 to 512 on DeepSeek-V3 and Qwen3. */
#define MK__LAYER_MASKED_PAIRS_PER_EXPERT 32
#define MK__LAYER_MASKED_MAX_ROWS 131072

typedef struct mk__layer_plan {
  mk_moe_layer_path path;
  int64_t m, experts, hidden, inter, rows, max_m;
  int32_t top_k;
  int64_t ld1, ld2, gs1, gs2; /* scale k-group and group strides (f32 elements) */
  size_t route_ws, ids, wts, sorted_ids, sorted_experts, offsets, inverse, counts, masked_ids, masked_inverse;
  size_t q1, sf1, h, q2, sf2, o, total;
} mk__layer_plan;

static size_t mk__carve(size_t *at, size_t bytes) {
  const size_t here = *at;
  *at += (bytes + 255) / 256 * 256;
  return here;
}

static mk_route_args mk__layer_route_args(const mk_moe_layer_args *a) {
  mk_route_args r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  r.kind = a->kind;
  r.top_k = a->top_k;
  r.renormalize = a->renormalize;
  r.n_group = a->n_group;
  r.topk_group = a->topk_group;
  r.routed_scaling_factor = a->routed_scaling_factor;
  r.logits = a->logits;
  r.bias = a->bias;
  return r;
}

/* Shapes and the workspace map; no device access. */
static mk_status mk__layer_plan_make(const char *fn, const mk_moe_layer_args *a, mk__layer_plan *pl) {
  mk_status st;
  size_t at = 0, route_bytes = 0;
  int64_t e, m, hh, ii, kb1, kb2;
  mk_route_args r;
  memset(pl, 0, sizeof *pl);
  if ((st = mk__check_tensor(fn, "x", &a->x, MK_DTYPE_BF16, 2, 16)) != MK_OK) return st;
  if ((st = mk__check_tensor(fn, "w13", &a->w13, MK_DTYPE_E4M3, 3, 16)) != MK_OK) return st;
  if ((st = mk__check_tensor(fn, "w2", &a->w2, MK_DTYPE_E4M3, 3, 16)) != MK_OK) return st;
  if ((st = mk__check_tensor(fn, "y", &a->y, MK_DTYPE_BF16, 2, 16)) != MK_OK) return st;
  m = a->x.shape[0];
  hh = a->x.shape[1];
  e = a->w13.shape[0];
  ii = a->w13.shape[1] / 2;
  if (a->w13.shape[2] != hh || a->w13.shape[1] % 2 != 0)
    return mk__fail(MK_ERR_SHAPE, "%s: w13: shape [%lld, %lld, %lld] must be [E, 2I, H] with H = %lld", fn,
                    (long long)a->w13.shape[0], (long long)a->w13.shape[1], (long long)a->w13.shape[2], (long long)hh);
  if (a->w2.shape[0] != e || a->w2.shape[1] != hh || a->w2.shape[2] != ii)
    return mk__fail(MK_ERR_SHAPE, "%s: w2: shape [%lld, %lld, %lld], expected [E, H, I] = [%lld, %lld, %lld]", fn,
                    (long long)a->w2.shape[0], (long long)a->w2.shape[1], (long long)a->w2.shape[2], (long long)e,
                    (long long)hh, (long long)ii);
  if (a->y.shape[0] != m || a->y.shape[1] != hh)
    return mk__fail(MK_ERR_SHAPE, "%s: y: shape [%lld, %lld], expected [M, H] = [%lld, %lld]", fn,
                    (long long)a->y.shape[0], (long long)a->y.shape[1], (long long)m, (long long)hh);
  if (a->logits.ndim != 2 || a->logits.shape[0] != m || a->logits.shape[1] != e)
    return mk__fail(MK_ERR_SHAPE, "%s: logits: must be [M, E] = [%lld, %lld]", fn, (long long)m, (long long)e);
  if (hh % 128 != 0 || ii % 128 != 0)
    return mk__fail(MK_ERR_SHAPE, "%s: H = %lld and I = %lld must be multiples of 128 (FP8 1x128)", fn, (long long)hh,
                    (long long)ii);
  if (a->top_k < 1 || a->top_k > 32 || a->top_k > e)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: top_k = %d must be in 1..min(32, E = %lld)", fn, a->top_k, (long long)e);
  if (a->path != MK_MOE_LAYER_AUTO && a->path != MK_MOE_LAYER_CONTIGUOUS && a->path != MK_MOE_LAYER_MASKED)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: path %d is not an mk_moe_layer_path", fn, (int)a->path);
  if (a->pdl != MK_MOE_LAYER_PDL_AUTO && a->pdl != MK_MOE_LAYER_PDL_ON && a->pdl != MK_MOE_LAYER_PDL_OFF)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: pdl %d is not an mk_moe_layer_pdl (0 auto, 1 on, 2 off)", fn, (int)a->pdl);
  pl->path = a->path != MK_MOE_LAYER_AUTO ? a->path
             : (m * a->top_k <= MK__LAYER_MASKED_PAIRS_PER_EXPERT * e && e * m <= MK__LAYER_MASKED_MAX_ROWS)
                 ? MK_MOE_LAYER_MASKED
                 : MK_MOE_LAYER_CONTIGUOUS;
  pl->m = m;
  pl->experts = e;
  pl->hidden = hh;
  pl->inter = ii;
  pl->top_k = a->top_k;
  if (pl->path == MK_MOE_LAYER_MASKED) {
    pl->max_m = m;
    pl->rows = e * m;
  } else {
    pl->rows = mk_route_capacity(m, a->top_k, (int32_t)e, MK__LAYER_BLOCK_M);
    pl->max_m = pl->rows;
  }
  kb1 = hh / 128;
  kb2 = ii / 128;
  pl->ld1 = pl->ld2 = (pl->max_m + 3) / 4 * 4;
  pl->gs1 = kb1 * pl->ld1;
  pl->gs2 = kb2 * pl->ld2;
  /* the route workspace, for the outputs this path requests */
  r = mk__layer_route_args(a);
  r.topk_weights = mk_tensor_2d((void *)256, MK_DTYPE_F32, m, a->top_k);
  if (pl->path == MK_MOE_LAYER_CONTIGUOUS) {
    r.block_m = MK__LAYER_BLOCK_M;
    r.inverse = mk_tensor_2d((void *)256, MK_DTYPE_I32, m, a->top_k);
  } else {
    r.expert_counts = mk_tensor_1d((void *)256, MK_DTYPE_I32, e);
  }
  if ((st = mk_route_workspace_size(&r, &route_bytes)) != MK_OK) return st;
  pl->route_ws = mk__carve(&at, route_bytes);
  pl->ids = mk__carve(&at, (size_t)(m * a->top_k * 4));
  pl->wts = mk__carve(&at, (size_t)(m * a->top_k * 4));
  if (pl->path == MK_MOE_LAYER_CONTIGUOUS) {
    pl->sorted_ids = mk__carve(&at, (size_t)pl->rows * 4);
    pl->sorted_experts = mk__carve(&at, (size_t)pl->rows * 4);
    pl->offsets = mk__carve(&at, (size_t)(e + 1) * 4);
    pl->inverse = mk__carve(&at, (size_t)(m * a->top_k * 4));
  } else {
    pl->counts = mk__carve(&at, (size_t)e * 4);
    pl->masked_ids = mk__carve(&at, (size_t)(e * m * 4));
    pl->masked_inverse = mk__carve(&at, (size_t)(m * a->top_k * 4));
  }
  pl->q1 = mk__carve(&at, (size_t)(pl->rows * hh));
  pl->sf1 = mk__carve(&at, (size_t)((pl->rows / pl->max_m) * pl->gs1 * 4));
  pl->h = mk__carve(&at, (size_t)(pl->rows * 2 * ii * 2));
  pl->q2 = mk__carve(&at, (size_t)(pl->rows * ii));
  pl->sf2 = mk__carve(&at, (size_t)((pl->rows / pl->max_m) * pl->gs2 * 4));
  pl->o = mk__carve(&at, (size_t)(pl->rows * hh * 2));
  pl->total = at;
  return MK_OK;
}

mk_status mk_moe_layer_workspace_size(const mk_moe_layer_args *args, size_t *bytes) {
  static const char fn[] = "mk_moe_layer_workspace_size";
  mk_moe_layer_args a;
  mk__layer_plan pl;
  mk_status st;
  if ((st = mk__load_args(fn, &a, sizeof a, args)) != MK_OK) return st;
  if (bytes == NULL) return mk__fail(MK_ERR_INVALID_ARG, "%s: bytes is NULL", fn);
  if ((st = mk__layer_plan_make(fn, &a, &pl)) != MK_OK) return st;
  *bytes = pl.total;
  mk__clear_error();
  return MK_OK;
}

mk_status mk_moe_layer_pick_path(const mk_moe_layer_args *args, mk_moe_layer_path *path) {
  static const char fn[] = "mk_moe_layer_pick_path";
  mk_moe_layer_args a;
  mk__layer_plan pl;
  mk_status st;
  if ((st = mk__load_args(fn, &a, sizeof a, args)) != MK_OK) return st;
  if (path == NULL) return mk__fail(MK_ERR_INVALID_ARG, "%s: path is NULL", fn);
  if ((st = mk__layer_plan_make(fn, &a, &pl)) != MK_OK) return st;
  *path = pl.path;
  mk__clear_error();
  return MK_OK;
}

/* A 2-D / 3-D view of rows in the workspace. */
static mk_tensor mk__rows_view(void *base, mk_dtype dt, const mk__layer_plan *pl, int64_t cols) {
  if (pl->path == MK_MOE_LAYER_MASKED) return mk_tensor_3d(base, dt, pl->experts, pl->max_m, cols);
  return mk_tensor_2d(base, dt, pl->rows, cols);
}

static mk_tensor mk__scales_view(void *base, const mk__layer_plan *pl, int64_t kb, int64_t ld, int64_t gs) {
  mk_tensor t;
  if (pl->path == MK_MOE_LAYER_MASKED) {
    t = mk_tensor_3d(base, MK_DTYPE_F32, pl->experts, pl->max_m, kb);
    t.strides[0] = gs;
    t.strides[1] = 1;
    t.strides[2] = ld;
  } else {
    t = mk_tensor_2d(base, MK_DTYPE_F32, pl->rows, kb);
    t.strides[0] = 1;
    t.strides[1] = ld;
  }
  return t;
}

static mk_status mk__layer_event(const char *fn, const mk_moe_layer_args *a, int i, void *stream) {
  int rc;
  if (!a->stage_events || !a->stage_events[i]) return MK_OK;
  rc = mk__device_event_record(a->stage_events[i], stream);
  return rc ? mk__fail(MK_ERR_DEVICE, "%s: stage_events[%d]: %s", fn, i, mk__device_error_string(rc)) : MK_OK;
}

/* Prefixes the failing stage's message with the layer's name. */
static mk_status mk__layer_stage(const char *fn, const char *stage, mk_status st) {
  if (st != MK_OK) {
    char inner[sizeof mk__err];
    memcpy(inner, mk__err, sizeof inner);
    mk__fail(st, "%s: stage %s: %s", fn, stage, inner);
  }
  return st;
}

static mk_status mk__layer_forward(const char *fn, const mk_moe_layer_args *args, void *ws, size_t ws_bytes,
                                   void *stream);

/* NOTE: with PDL (args->pdl, or AUTO on the masked path) the stages launch
 * with programmatic dependent launch (core/platform.h): each kernel's launch
 * and prologue overlap the tail of the one before, and the GEMMs stream their
 * first weight tiles before the kernel before them finishes. AUTO leaves it
 * off for the contiguous path, where it measured 2-12% slower on H100s at
 * M = 4096 (docs/perf.md); at decode it was 5-14% faster. */
mk_status mk_moe_layer_forward(const mk_moe_layer_args *args, void *ws, size_t ws_bytes, void *stream) {
  static const char fn[] = "mk_moe_layer_forward";
  mk_moe_layer_args a;
  mk_status st;
  if ((st = mk__load_args(fn, &a, sizeof a, args)) != MK_OK) return st; /* older structs: pdl = AUTO */
  st = mk__layer_forward(fn, &a, ws, ws_bytes, stream);
  mk__pdl_mode = 0;
  return st;
}

/* The layer with its args loaded (a) and the launch flags set. */
static mk_status mk__layer_forward(const char *fn, const mk_moe_layer_args *args, void *ws, size_t ws_bytes,
                                   void *stream) {
  const mk_moe_layer_args a = *args;
  mk__layer_plan pl;
  mk_route_args r;
  mk_moe_dispatch_args d;
  mk_gemm_fp8_args g;
  mk_moe_swiglu_args s;
  mk_moe_combine_args c;
  char *w = (char *)ws;
  mk_status st;
  if ((st = mk__layer_plan_make(fn, &a, &pl)) != MK_OK) return st;
  if (ws == NULL || ws_bytes < pl.total)
    return mk__fail(MK_ERR_WORKSPACE, "%s: workspace is %zu bytes at %p, needs %zu (mk_moe_layer_workspace_size)", fn,
                    ws_bytes, ws, pl.total);
  if ((uintptr_t)ws % 256 != 0) return mk__fail(MK_ERR_INVALID_ARG, "%s: workspace %p is not 256-byte aligned", fn, ws);
  mk__pdl_mode = (a.pdl == MK_MOE_LAYER_PDL_ON || (a.pdl == MK_MOE_LAYER_PDL_AUTO && pl.path == MK_MOE_LAYER_MASKED))
                     ? MK__PDL_LAUNCH | MK__PDL_PREFETCH
                     : 0;

  /* ---- route -------------------------------------------------------------------------- */
  r = mk__layer_route_args(&a);
  r.topk_ids = mk_tensor_2d(w + pl.ids, MK_DTYPE_I32, pl.m, pl.top_k);
  r.topk_weights = mk_tensor_2d(w + pl.wts, MK_DTYPE_F32, pl.m, pl.top_k);
  if (pl.path == MK_MOE_LAYER_CONTIGUOUS) {
    r.block_m = MK__LAYER_BLOCK_M;
    r.sorted_ids = mk_tensor_1d(w + pl.sorted_ids, MK_DTYPE_I32, pl.rows);
    r.sorted_experts = mk_tensor_1d(w + pl.sorted_experts, MK_DTYPE_I32, pl.rows);
    r.expert_offsets = mk_tensor_1d(w + pl.offsets, MK_DTYPE_I32, pl.experts + 1);
    r.inverse = mk_tensor_2d(w + pl.inverse, MK_DTYPE_I32, pl.m, pl.top_k);
  } else {
    r.expert_counts = mk_tensor_1d(w + pl.counts, MK_DTYPE_I32, pl.experts);
    r.masked_ids = mk_tensor_2d(w + pl.masked_ids, MK_DTYPE_I32, pl.experts, pl.m);
    r.masked_inverse = mk_tensor_2d(w + pl.masked_inverse, MK_DTYPE_I32, pl.m, pl.top_k);
  }
  if ((st = mk__layer_event(fn, &a, 0, stream)) != MK_OK) return st;
  if ((st = mk__layer_stage(fn, "route", mk_route(&r, w + pl.route_ws, pl.ids - pl.route_ws, stream))) != MK_OK)
    return st;

  /* ---- dispatch: x -> FP8 rows ---------------------------------------------------------- */
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.layout = pl.path == MK_MOE_LAYER_MASKED ? MK_MOE_MASKED : MK_MOE_CONTIGUOUS;
  d.x = a.x;
  d.inverse = pl.path == MK_MOE_LAYER_MASKED ? r.masked_inverse : r.inverse;
  d.q = mk__rows_view(w + pl.q1, MK_DTYPE_E4M3, &pl, pl.hidden);
  d.scales = mk__scales_view(w + pl.sf1, &pl, pl.hidden / 128, pl.ld1, pl.gs1);
  if (pl.path == MK_MOE_LAYER_CONTIGUOUS) {
    d.sorted_ids = r.sorted_ids;
    d.expert_offsets = r.expert_offsets;
  }
  if ((st = mk__layer_event(fn, &a, 1, stream)) != MK_OK) return st;
  if ((st = mk__layer_stage(fn, "dispatch", mk_moe_dispatch(&d, NULL, 0, stream))) != MK_OK) return st;

  /* ---- gate/up GEMM ---------------------------------------------------------------------- */
  memset(&g, 0, sizeof g);
  g.struct_size = sizeof g;
  g.kind = pl.path == MK_MOE_LAYER_MASKED ? MK_GEMM_GROUPED_MASKED : MK_GEMM_GROUPED_CONTIGUOUS;
  g.a = d.q;
  g.a_scales = d.scales;
  g.b = a.w13;
  g.b_scales = a.w13_scales;
  g.d = mk__rows_view(w + pl.h, MK_DTYPE_BF16, &pl, 2 * pl.inter);
  if (pl.path == MK_MOE_LAYER_MASKED) {
    /* the experts the batch reaches (at most M * top_k) and their rows */
    g.masked_m = r.expert_counts;
    g.expected_groups = pl.m * pl.top_k < pl.experts ? pl.m * pl.top_k : pl.experts;
    g.expected_m = (pl.m * pl.top_k + g.expected_groups - 1) / g.expected_groups;
  } else {
    g.m_indices = r.sorted_experts;
    g.group_align = MK__LAYER_BLOCK_M;
  }
  if ((st = mk__layer_event(fn, &a, 2, stream)) != MK_OK) return st;
  if ((st = mk__layer_stage(fn, "gemm1", mk_gemm_fp8(&g, NULL, 0, stream))) != MK_OK) return st;

  /* ---- activation + requantization --------------------------------------------------------- */
  memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  s.layout = d.layout;
  s.clamped = a.clamped;
  s.interleaved = a.interleaved;
  s.alpha = a.alpha;
  s.limit = a.limit;
  s.h = g.d;
  s.q = mk__rows_view(w + pl.q2, MK_DTYPE_E4M3, &pl, pl.inter);
  s.scales = mk__scales_view(w + pl.sf2, &pl, pl.inter / 128, pl.ld2, pl.gs2);
  if (pl.path == MK_MOE_LAYER_MASKED) s.masked_m = r.expert_counts;
  else s.row_experts = r.sorted_experts;
  /* NOTE: only the routed pairs' rows: the masked layout holds E * M rows for
   * M * top_k pairs, the contiguous one pads every expert to 128 rows */
  s.rows = pl.path == MK_MOE_LAYER_MASKED ? r.masked_inverse : r.inverse;
  if ((st = mk__layer_event(fn, &a, 3, stream)) != MK_OK) return st;
  if ((st = mk__layer_stage(fn, "swiglu", mk_moe_swiglu(&s, NULL, 0, stream))) != MK_OK) return st;

  /* ---- down GEMM ----------------------------------------------------------------------------- */
  g.a = s.q;
  g.a_scales = s.scales;
  g.b = a.w2;
  g.b_scales = a.w2_scales;
  g.d = mk__rows_view(w + pl.o, MK_DTYPE_BF16, &pl, pl.hidden);
  if ((st = mk__layer_event(fn, &a, 4, stream)) != MK_OK) return st;
  if ((st = mk__layer_stage(fn, "gemm2", mk_gemm_fp8(&g, NULL, 0, stream))) != MK_OK) return st;

  /* ---- combine ----------------------------------------------------------------------------------- */
  memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  c.accumulate = a.accumulate;
  c.src = g.d;
  c.inverse = d.inverse;
  c.weights = r.topk_weights;
  c.y = a.y;
  if ((st = mk__layer_event(fn, &a, 5, stream)) != MK_OK) return st;
  if ((st = mk__layer_stage(fn, "combine", mk_moe_combine(&c, NULL, 0, stream))) != MK_OK) return st;
  if ((st = mk__layer_event(fn, &a, 6, stream)) != MK_OK) return st;
  mk__clear_error();
  return MK_OK;
}

/* ---- reference ----------------------------------------------------------------------------------- */
typedef struct mk__ref_map {
  size_t scores, ids, wts, xa, h, a, o, total;
} mk__ref_map;

static void mk__ref_map_make(const mk__layer_plan *pl, int64_t s, mk__ref_map *mp) {
  size_t at = 0;
  const int64_t rows = s * pl->top_k;
  mp->scores = mk__carve(&at, (size_t)(s * pl->experts * 4));
  mp->ids = mk__carve(&at, (size_t)(rows * 4));
  mp->wts = mk__carve(&at, (size_t)(rows * 4));
  mp->xa = mk__carve(&at, (size_t)(s * pl->hidden * 4));
  mp->h = mk__carve(&at, (size_t)(rows * 2 * pl->inter * 4));
  mp->a = mk__carve(&at, (size_t)(rows * pl->inter * 4));
  mp->o = mk__carve(&at, (size_t)(rows * pl->hidden * 4));
  mp->total = at;
}

mk_status mk_moe_layer_reference_workspace_size(const mk_moe_layer_args *args, int64_t num_tokens, size_t *bytes) {
  static const char fn[] = "mk_moe_layer_reference_workspace_size";
  mk_moe_layer_args a;
  mk__layer_plan pl;
  mk__ref_map mp;
  mk_status st;
  if ((st = mk__load_args(fn, &a, sizeof a, args)) != MK_OK) return st;
  if (bytes == NULL || num_tokens < 1)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: bytes is NULL or num_tokens = %lld < 1", fn, (long long)num_tokens);
  if ((st = mk__layer_plan_make(fn, &a, &pl)) != MK_OK) return st;
  mk__ref_map_make(&pl, num_tokens, &mp);
  *bytes = mp.total;
  mk__clear_error();
  return MK_OK;
}

mk_status mk_moe_layer_reference(const mk_moe_layer_args *args, const mk_tensor *tokens, const mk_tensor *y_ref,
                                 int32_t mirror, void *ws, size_t ws_bytes, void *stream) {
  static const char fn[] = "mk_moe_layer_reference";
  mk_moe_layer_args a;
  mk__layer_plan pl;
  mk__ref_map mp;
  mk__moe_ref_params p;
  const mk__entry *e = NULL;
  char *w = (char *)ws;
  mk_status st;
  if ((st = mk__load_args(fn, &a, sizeof a, args)) != MK_OK) return st;
  if ((st = mk__layer_plan_make(fn, &a, &pl)) != MK_OK) return st;
  if (tokens == NULL || y_ref == NULL) return mk__fail(MK_ERR_INVALID_ARG, "%s: tokens or y_ref is NULL", fn);
  if ((st = mk__check_tensor(fn, "tokens", tokens, MK_DTYPE_I32, 1, 4)) != MK_OK) return st;
  if ((st = mk__check_tensor(fn, "y_ref", y_ref, MK_DTYPE_F32, 2, 4)) != MK_OK) return st;
  if (y_ref->shape[0] != tokens->shape[0] || y_ref->shape[1] != pl.hidden || y_ref->strides[0] != pl.hidden)
    return mk__fail(MK_ERR_SHAPE, "%s: y_ref: must be contiguous [S, H] = [%lld, %lld]", fn,
                    (long long)tokens->shape[0], (long long)pl.hidden);
  if (a.logits.dtype != MK_DTYPE_F32 && a.logits.dtype != MK_DTYPE_BF16 && a.logits.dtype != MK_DTYPE_F16)
    return mk__fail(MK_ERR_DTYPE, "%s: logits: dtype is %s, expected f32, bf16 or f16", fn, mk_dtype_name(a.logits.dtype));
  if (a.logits.strides[0] != pl.experts || a.x.strides[0] != pl.hidden)
    return mk__fail(MK_ERR_SHAPE, "%s: the reference reads logits and x as contiguous rows", fn);
  mk__ref_map_make(&pl, tokens->shape[0], &mp);
  if (ws == NULL || ws_bytes < mp.total)
    return mk__fail(MK_ERR_WORKSPACE, "%s: workspace is %zu bytes, needs %zu", fn, ws_bytes, mp.total);
  if ((st = mk__select(fn, MK_OP_MOE_REFERENCE, 0u, 0, 0, 0, 0, "the layer reference", &e)) != MK_OK) return st;
  memset(&p, 0, sizeof p);
  p.logits = a.logits.data;
  p.logits_dtype = (int32_t)a.logits.dtype;
  p.kind = (int32_t)a.kind;
  p.bias = (const float *)a.bias.data;
  p.x = (const uint16_t *)a.x.data;
  p.w13 = (const uint8_t *)a.w13.data;
  p.s13 = (const float *)a.w13_scales.data;
  p.w2 = (const uint8_t *)a.w2.data;
  p.s2 = (const float *)a.w2_scales.data;
  p.tokens = (const int32_t *)tokens->data;
  p.y = (float *)y_ref->data;
  p.scores = (float *)(w + mp.scores);
  p.ids = (int32_t *)(w + mp.ids);
  p.wts = (float *)(w + mp.wts);
  p.xa = (float *)(w + mp.xa);
  p.h = (float *)(w + mp.h);
  p.a = (float *)(w + mp.a);
  p.o = (float *)(w + mp.o);
  p.m = pl.m;
  p.s = tokens->shape[0];
  p.hidden = pl.hidden;
  p.inter = pl.inter;
  p.experts = (int32_t)pl.experts;
  p.top_k = pl.top_k;
  p.renormalize = a.renormalize;
  p.n_group = a.n_group ? a.n_group : 1;
  p.topk_group = a.topk_group ? a.topk_group : p.n_group;
  p.scaling = a.routed_scaling_factor;
  p.alpha = a.alpha;
  p.limit = a.limit;
  p.clamped = a.clamped;
  p.interleaved = a.interleaved;
  p.mirror = mirror;
  return mk__launch(fn, e, &p, stream);
}

#endif /* MOEKIT_API_IMPL_LAYER_H */
