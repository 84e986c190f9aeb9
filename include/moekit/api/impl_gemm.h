/* moekit/api/impl_gemm.h - argument checks, configuration choice and
 * dispatch of the block-scaled FP8 GEMMs (mk_gemm_fp8, mk_gemm_fp8_query).
 *
 * Configuration choice (docs/gemm.md, "Choosing a configuration"): every
 * built instance of the call's (kind, N, K) that can serve it is scored by
 * mk__gemm_cost(), an estimate in SM clock cycles; the lowest wins, ties go
 * to a swap-AB configuration for masked decode (mk__gemm_swap_first), then to
 * the lower modelled compute time, then to the earlier registry entry.
 * gen/ops/gemm.py evaluates the same model to decide what to build.
 */
#ifndef MOEKIT_API_IMPL_GEMM_H
#define MOEKIT_API_IMPL_GEMM_H

#include "moekit/api/gemm_cost.h"
#include "moekit/api/impl_core.h"

static mk__gemm_config mk__gemm_entry_config(const mk__entry *e) {
  mk__gemm_config c;
  c.block_m = e->block_m;
  c.block_n = e->block_n;
  c.stages = e->stages;
  c.swap_ab = (e->variant & MK__GEMM_SWAP_AB) != 0;
  c.cluster = (e->variant & (MK__GEMM_MCAST_A | MK__GEMM_MCAST_B)) ? 2 : 1;
  c.mcast_a = (e->variant & MK__GEMM_MCAST_A) != 0;
  return c;
}

/* Is entry e an FP8 GEMM of this kind / of this kind and (n, k)? */
static int mk__gemm_entry_of_kind(const mk__entry *e, int kind) {
  return e->op == MK_OP_GEMM_FP8 && (int)(e->variant & MK__GEMM_KIND_MASK) == kind;
}
static int mk__gemm_entry_is(const mk__entry *e, int kind, int64_t n, int64_t k) {
  return mk__gemm_entry_of_kind(e, kind) && e->n == n && e->k == k;
}

/* Can entry e serve (kind, n, k) with this contiguous alignment? */
static int mk__gemm_entry_serves(const mk__entry *e, int kind, int64_t n, int64_t k, int64_t align) {
  if (!mk__gemm_entry_is(e, kind, n, k)) return 0;
  if (kind == MK_GEMM_GROUPED_CONTIGUOUS && align % e->block_m != 0) return 0;
  return 1;
}

/* ---- argument checks ------------------------------------------------------------------- */
typedef struct mk__gemm_shape {
  int kind;
  int64_t m;       /* dense/contiguous: M; masked: max_m */
  int64_t n, k, groups;
  int64_t align;   /* contiguous */
} mk__gemm_shape;

static const char *mk__gemm_kind_name(int kind) {
  switch (kind) {
    case MK_GEMM_DENSE: return "dense";
    case MK_GEMM_GROUPED_CONTIGUOUS: return "grouped contiguous";
    case MK_GEMM_GROUPED_MASKED: return "grouped masked";
  }
  return "unknown";
}

/* An e4m3 or bf16 operand [groups?, rows, cols] with a unit inner stride,
 * rows `row_align` elements apart at least, groups not overlapping. */
static mk_status mk__gemm_check_matrix(const char *fn, const char *name, const mk_tensor *t, mk_dtype dtype,
                                       int ndim, int64_t row_align) {
  mk_status st;
  const int64_t rows = t->shape[ndim - 2], cols = t->shape[ndim - 1];
  if ((st = mk__check_tensor(fn, name, t, dtype, ndim, 16)) != MK_OK) return st;
  if (t->strides[ndim - 1] != 1)
    return mk__fail(MK_ERR_SHAPE, "%s: %s: the last stride is %lld, must be 1", fn, name,
                    (long long)t->strides[ndim - 1]);
  if (t->strides[ndim - 2] < cols || t->strides[ndim - 2] % row_align != 0)
    return mk__fail(MK_ERR_SHAPE, "%s: %s: row stride %lld must be >= %lld and a multiple of %lld (16 bytes)", fn,
                    name, (long long)t->strides[ndim - 2], (long long)cols, (long long)row_align);
  if (ndim == 3 && (t->strides[0] < rows * t->strides[1] || t->strides[0] % row_align != 0))
    return mk__fail(MK_ERR_SHAPE, "%s: %s: group stride %lld must be >= rows * row stride = %lld and a multiple of %lld",
                    fn, name, (long long)t->strides[0], (long long)(rows * t->strides[1]), (long long)row_align);
  return MK_OK;
}

static mk_status mk__gemm_check_int_vector(const char *fn, const char *name, const mk_tensor *t, int64_t len,
                                           int at_least) {
  mk_status st;
  if ((st = mk__check_tensor(fn, name, t, MK_DTYPE_I32, 1, 4)) != MK_OK) return st;
  if (at_least ? t->shape[0] < len : t->shape[0] != len)
    return mk__fail(MK_ERR_SHAPE, "%s: %s: length is %lld, expected %s%lld", fn, name, (long long)t->shape[0],
                    at_least ? "at least " : "", (long long)len);
  if (t->strides[0] != 1)
    return mk__fail(MK_ERR_SHAPE, "%s: %s: stride is %lld, must be 1", fn, name, (long long)t->strides[0]);
  return MK_OK;
}

/* Everything but the signal (whose length depends on the chosen block_m). */
static mk_status mk__gemm_check(const char *fn, const mk_gemm_fp8_args *a, mk__gemm_shape *sh) {
  mk_status st;
  const int kind = (int)a->kind;
  const int masked = kind == MK_GEMM_GROUPED_MASKED;
  const int ndim_a = masked ? 3 : 2, ndim_b = kind == MK_GEMM_DENSE ? 2 : 3;
  int64_t kb, n_sf, g;
  if (kind != MK_GEMM_DENSE && kind != MK_GEMM_GROUPED_CONTIGUOUS && !masked)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: kind %d is not an mk_gemm_kind (0 dense, 1 grouped contiguous, 2 grouped masked)",
                    fn, kind);
  sh->kind = kind;
  /* A: e4m3 [M, K] or [G, max_m, K] */
  if ((st = mk__gemm_check_matrix(fn, "a", &a->a, MK_DTYPE_E4M3, ndim_a, 16)) != MK_OK) return st;
  sh->m = a->a.shape[ndim_a - 2];
  sh->k = a->a.shape[ndim_a - 1];
  if (sh->k % 128 != 0)
    return mk__fail(MK_ERR_SHAPE, "%s: a: K = %lld is not a multiple of 128 (the scale block)", fn, (long long)sh->k);
  kb = sh->k / 128;
  /* B: e4m3 [N, K] or [G, N, K] */
  if ((st = mk__gemm_check_matrix(fn, "b", &a->b, MK_DTYPE_E4M3, ndim_b, 16)) != MK_OK) return st;
  sh->n = a->b.shape[ndim_b - 2];
  sh->groups = g = ndim_b == 3 ? a->b.shape[0] : 1;
  if (a->b.shape[ndim_b - 1] != sh->k)
    return mk__fail(MK_ERR_SHAPE, "%s: b: K = %lld differs from a's K = %lld", fn, (long long)a->b.shape[ndim_b - 1],
                    (long long)sh->k);
  if (sh->n % 8 != 0)
    return mk__fail(MK_ERR_SHAPE, "%s: b: N = %lld is not a multiple of 8 (16-byte rows of d)", fn, (long long)sh->n);
  if (masked && a->a.shape[0] != g)
    return mk__fail(MK_ERR_SHAPE, "%s: a: %lld groups, but b has %lld experts", fn, (long long)a->a.shape[0],
                    (long long)g);
  /* D: bf16, A's rows by N */
  if ((st = mk__gemm_check_matrix(fn, "d", &a->d, MK_DTYPE_BF16, ndim_a, 8)) != MK_OK) return st;
  if (masked && (a->d.shape[0] != g || a->d.shape[1] != sh->m || a->d.shape[2] != sh->n))
    return mk__fail(MK_ERR_SHAPE, "%s: d: shape [%lld, %lld, %lld], expected [%lld, %lld, %lld] (G, max_m of a, N)", fn,
                    (long long)a->d.shape[0], (long long)a->d.shape[1], (long long)a->d.shape[2], (long long)g,
                    (long long)sh->m, (long long)sh->n);
  if (!masked && (a->d.shape[0] != sh->m || a->d.shape[1] != sh->n))
    return mk__fail(MK_ERR_SHAPE, "%s: d: shape [%lld, %lld], expected [%lld, %lld] (M of a, N)", fn,
                    (long long)a->d.shape[0], (long long)a->d.shape[1], (long long)sh->m, (long long)sh->n);
  /* A scales: f32 MN-major */
  if ((st = mk__check_tensor(fn, "a_scales", &a->a_scales, MK_DTYPE_F32, ndim_a, 16)) != MK_OK) return st;
  if (!masked) {
    const int64_t ld = a->a_scales.strides[1];
    if (a->a_scales.shape[0] != sh->m || a->a_scales.shape[1] != kb)
      return mk__fail(MK_ERR_SHAPE, "%s: a_scales: shape [%lld, %lld], expected [%lld, %lld] (one per row and 128 of K)",
                      fn, (long long)a->a_scales.shape[0], (long long)a->a_scales.shape[1], (long long)sh->m,
                      (long long)kb);
    if (a->a_scales.strides[0] != 1 || ld < sh->m || ld % 4 != 0)
      return mk__fail(MK_ERR_SHAPE,
                      "%s: a_scales: strides {%lld, %lld} must be MN-major {1, ld} with ld >= M and ld %% 4 == 0 (TMA-aligned)",
                      fn, (long long)a->a_scales.strides[0], (long long)ld);
  } else {
    const int64_t gs = a->a_scales.strides[0], ld = a->a_scales.strides[2];
    if (a->a_scales.shape[0] != g || a->a_scales.shape[1] != sh->m || a->a_scales.shape[2] != kb)
      return mk__fail(MK_ERR_SHAPE, "%s: a_scales: shape [%lld, %lld, %lld], expected [%lld, %lld, %lld]", fn,
                      (long long)a->a_scales.shape[0], (long long)a->a_scales.shape[1],
                      (long long)a->a_scales.shape[2], (long long)g, (long long)sh->m, (long long)kb);
    if (a->a_scales.strides[1] != 1 || gs % 4 != 0 || ld % 4 != 0 || gs <= 0 || ld <= 0 ||
        !((ld >= sh->m && gs >= ld * kb) || (gs >= sh->m && ld >= gs * g)))
      return mk__fail(MK_ERR_SHAPE,
                      "%s: a_scales: strides {%lld, %lld, %lld} must be {gs, 1, ld}, gs and ld multiples of 4, with either "
                      "ld >= max_m and gs >= ld * K/128, or gs >= max_m and ld >= gs * G",
                      fn, (long long)gs, (long long)a->a_scales.strides[1], (long long)ld);
  }
  /* B scales: f32 [G?, ceil(N/128), K/128], any positive strides */
  n_sf = mk__ceil_div(sh->n, 128);
  if ((st = mk__check_tensor(fn, "b_scales", &a->b_scales, MK_DTYPE_F32, ndim_b, 4)) != MK_OK) return st;
  {
    const int o = ndim_b - 2;
    int i;
    if ((ndim_b == 3 && a->b_scales.shape[0] != g) || a->b_scales.shape[o] != n_sf || a->b_scales.shape[o + 1] != kb)
      return mk__fail(MK_ERR_SHAPE, "%s: b_scales: shape [%lld, %lld%s%lld], expected [%s%lld, %lld] (one per 128x128 block)",
                      fn, (long long)a->b_scales.shape[0], (long long)a->b_scales.shape[1], ndim_b == 3 ? ", " : "",
                      ndim_b == 3 ? (long long)a->b_scales.shape[2] : 0LL, ndim_b == 3 ? "G, " : "", (long long)n_sf,
                      (long long)kb);
    int64_t span = 0;
    for (i = 0; i < ndim_b; ++i) {
      if (a->b_scales.strides[i] <= 0)
        return mk__fail(MK_ERR_SHAPE, "%s: b_scales: stride %d is %lld, must be positive", fn, i,
                        (long long)a->b_scales.strides[i]);
      if (i >= ndim_b - 2) span += (a->b_scales.shape[i] - 1) * a->b_scales.strides[i];
    }
    if (span >= ((int64_t)1 << 31)) /* one expert's scales are addressed with 32-bit offsets */
      return mk__fail(MK_ERR_SHAPE, "%s: b_scales: one expert's scales span %lld elements, must be < 2^31", fn,
                      (long long)span);
  }
  /* kind-specific inputs */
  if (kind == MK_GEMM_GROUPED_CONTIGUOUS) {
    if ((st = mk__gemm_check_int_vector(fn, "m_indices", &a->m_indices, sh->m, 0)) != MK_OK) return st;
  } else if (a->m_indices.data != NULL) {
    return mk__fail(MK_ERR_INVALID_ARG, "%s: m_indices: only grouped contiguous GEMMs take it (kind is %s)", fn,
                    mk__gemm_kind_name(kind));
  }
  if (masked) {
    if ((st = mk__gemm_check_int_vector(fn, "masked_m", &a->masked_m, g, 0)) != MK_OK) return st;
    if (a->expected_m < 0)
      return mk__fail(MK_ERR_INVALID_ARG, "%s: expected_m is %lld, must be >= 0 (0: max_m)", fn,
                      (long long)a->expected_m);
    if (a->expected_groups < 0)
      return mk__fail(MK_ERR_INVALID_ARG, "%s: expected_groups is %lld, must be >= 0 (0: all groups)", fn,
                      (long long)a->expected_groups);
  } else if (a->masked_m.data != NULL) {
    return mk__fail(MK_ERR_INVALID_ARG, "%s: masked_m: only grouped masked GEMMs take it (kind is %s)", fn,
                    mk__gemm_kind_name(kind));
  }
  sh->align = a->group_align ? a->group_align : 128;
  if (a->group_align < 0)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: group_align is %d, must be >= 0 (0: 128)", fn, (int)a->group_align);
  if (a->num_sms < 0)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: num_sms is %d, must be >= 0 (0: all)", fn, (int)a->num_sms);
  if (a->signal.data != NULL && (st = mk__check_tensor(fn, "signal", &a->signal, MK_DTYPE_I32, 1, 4)) != MK_OK)
    return st;
  return MK_OK;
}

/* ---- choosing the instance --------------------------------------------------------------- */
static mk_status mk__gemm_select(const char *fn, const mk_gemm_fp8_args *a, const mk__gemm_shape *sh,
                                 const mk__entry **out, int *sms_out) {
  char built[200] = "";
  size_t used = 0;
  int i, any = 0, arch = 0, sms = 0, best = -1, best_swap = 0, rc;
  double best_cost = 0, best_compute = 0;
  mk__gemm_problem pb;
  mk_status st;
  /* shape misses first: they never need a GPU */
  for (i = 0; i < mk__registry_len && !any; ++i) any = mk__gemm_entry_is(&mk__registry[i], sh->kind, sh->n, sh->k);
  /* NOTE: the list of built shapes is only made for the error: it is
   * quadratic in the registry, and made on every call it cost tens of
   * microseconds of host time per call with ~200 instances (docs/perf.md,
   * GEMM run 8) */
  for (i = 0; i < mk__registry_len && !any; ++i) {
    const mk__entry *e = &mk__registry[i];
    int seen = 0, j;
    if (!mk__gemm_entry_of_kind(e, sh->kind) || used + 24 >= sizeof built) continue;
    for (j = 0; j < i && !seen; ++j) seen = mk__gemm_entry_is(&mk__registry[j], sh->kind, e->n, e->k); /* each (N, K) once */
    if (!seen)
      used += (size_t)snprintf(built + used, sizeof built - used, "%sN=%lld K=%lld", used ? ", " : "", (long long)e->n,
                               (long long)e->k);
  }
  if (!any)
    return mk__fail(MK_ERR_UNSUPPORTED, "%s: no %s GEMM instance in library '%s' for N=%lld K=%lld (built: %s)", fn,
                    mk__gemm_kind_name(sh->kind), mk__model_name, (long long)sh->n, (long long)sh->k,
                    used ? built : "none of this kind");
  if (a->kernel != NULL) {
    for (i = 0; i < mk__registry_len; ++i)
      if (!strcmp(mk__registry[i].name, a->kernel)) break;
    if (i == mk__registry_len)
      return mk__fail(MK_ERR_UNSUPPORTED, "%s: kernel '%s' is not in library '%s'", fn, a->kernel, mk__model_name);
    if (!mk__gemm_entry_serves(&mk__registry[i], sh->kind, sh->n, sh->k, sh->align))
      return mk__fail(MK_ERR_UNSUPPORTED, "%s: kernel '%s' does not serve a %s GEMM with N=%lld K=%lld group_align=%lld",
                      fn, a->kernel, mk__gemm_kind_name(sh->kind), (long long)sh->n, (long long)sh->k,
                      (long long)sh->align);
  }
  if ((st = mk__current_arch(fn, &arch)) != MK_OK) return st;
  if ((rc = mk__device_sm_count(&sms)) != 0)
    return mk__fail(MK_ERR_DEVICE, "%s: cannot query the SM count: %s", fn, mk__device_error_string(rc));
  if (a->num_sms > 0 && a->num_sms < sms) sms = a->num_sms;
  *sms_out = sms;
  pb.kind = sh->kind;
  pb.m = sh->kind == MK_GEMM_GROUPED_MASKED ? (a->expected_m > 0 && a->expected_m < sh->m ? a->expected_m : sh->m)
                                            : sh->m;
  /* masked: the groups expected to hold rows (decode touches few experts) */
  pb.groups = sh->kind == MK_GEMM_GROUPED_MASKED && a->expected_groups > 0 && a->expected_groups < sh->groups
                  ? a->expected_groups
                  : sh->groups;
  pb.n = sh->n;
  pb.k = sh->k;
  pb.sms = sms;
  for (i = 0; i < mk__registry_len; ++i) {
    const mk__entry *e = &mk__registry[i];
    mk__gemm_config c;
    double cost, compute;
    if (e->arch != arch || !mk__gemm_entry_serves(e, sh->kind, sh->n, sh->k, sh->align)) continue;
    if (a->kernel != NULL) {
      if (strcmp(e->name, a->kernel)) continue;
    }
    c = mk__gemm_entry_config(e);
    if (c.cluster > sms) {
      if (a->kernel != NULL)
        return mk__fail(MK_ERR_INVALID_ARG, "%s: kernel '%s' runs on clusters of %d SMs, but num_sms is %d", fn,
                        a->kernel, c.cluster, sms);
      continue;
    }
    cost = mk__gemm_cost(&pb, &c, &compute);
    if (best < 0 || mk__gemm_better(&pb, cost, compute, c.swap_ab, best_cost, best_compute, best_swap)) {
      best = i;
      best_cost = cost;
      best_compute = compute;
      best_swap = c.swap_ab;
    }
  }
  if (best < 0) {
    if (a->kernel != NULL)
      return mk__fail(MK_ERR_UNSUPPORTED, "%s: kernel '%s' is not built for this GPU (compute capability %d.%d)", fn,
                      a->kernel, arch / 10, arch % 10);
    return mk__fail(MK_ERR_UNSUPPORTED,
                    "%s: no %s GEMM instance for N=%lld K=%lld runs on this GPU (compute capability %d.%d) with "
                    "group_align=%lld",
                    fn, mk__gemm_kind_name(sh->kind), (long long)sh->n, (long long)sh->k, arch / 10, arch % 10,
                    (long long)sh->align);
  }
  *out = &mk__registry[best];
  return MK_OK;
}

static int64_t mk__gemm_num_signals(const mk__gemm_shape *sh, const mk__entry *e) {
  const int64_t per_group = mk__ceil_div(sh->m, e->block_m);
  return sh->kind == MK_GEMM_GROUPED_MASKED ? per_group * sh->groups : per_group;
}

/* Checks, then chooses. */
static mk_status mk__gemm_prepare(const char *fn, const mk_gemm_fp8_args *args, mk_gemm_fp8_args *a,
                                  mk__gemm_shape *sh, const mk__entry **e, int *sms) {
  mk_status st;
  if ((st = mk__load_args(fn, a, sizeof *a, args)) != MK_OK) return st;
  if ((st = mk__gemm_check(fn, a, sh)) != MK_OK) return st;
  if ((st = mk__gemm_select(fn, a, sh, e, sms)) != MK_OK) return st;
  if (a->signal.data != NULL && a->signal.shape[0] < mk__gemm_num_signals(sh, *e))
    return mk__fail(MK_ERR_SHAPE, "%s: signal: length %lld, needs %lld counters (groups * ceil(max_m / block_m) with block_m %d)",
                    fn, (long long)a->signal.shape[0], (long long)mk__gemm_num_signals(sh, *e), (int)(*e)->block_m);
  if (a->signal.data != NULL && a->signal.strides[0] != 1)
    return mk__fail(MK_ERR_SHAPE, "%s: signal: stride is %lld, must be 1", fn, (long long)a->signal.strides[0]);
  return MK_OK;
}

/* ---- entry points ------------------------------------------------------------------------ */
mk_status mk_gemm_fp8_workspace_size(const mk_gemm_fp8_args *args, size_t *bytes) {
  static const char fn[] = "mk_gemm_fp8_workspace_size";
  if (args == NULL) return mk__fail(MK_ERR_INVALID_ARG, "%s: args is NULL", fn);
  if (bytes == NULL) return mk__fail(MK_ERR_INVALID_ARG, "%s: bytes is NULL", fn);
  *bytes = 0; /* tensor maps are kernel parameters: no workspace */
  return MK_OK;
}

mk_status mk_gemm_fp8_query(const mk_gemm_fp8_args *args, mk_gemm_fp8_info *info) {
  static const char fn[] = "mk_gemm_fp8_query";
  mk_gemm_fp8_args a;
  mk__gemm_shape sh;
  const mk__entry *e = NULL;
  mk_gemm_fp8_info out;
  int sms = 0;
  mk_status st;
  if (info == NULL) return mk__fail(MK_ERR_INVALID_ARG, "%s: info is NULL", fn);
  if (info->struct_size < sizeof(uint32_t) || info->struct_size > sizeof out)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: info->struct_size is %u, expected %zu", fn, info->struct_size, sizeof out);
  if ((st = mk__gemm_prepare(fn, args, &a, &sh, &e, &sms)) != MK_OK) return st;
  memset(&out, 0, sizeof out);
  out.struct_size = info->struct_size;
  out.kernel = e->name;
  out.block_m = e->block_m;
  out.block_n = e->block_n;
  out.signal_threshold = (int32_t)mk__ceil_div(sh.n, e->block_n);
  out.swap_ab = (e->variant & MK__GEMM_SWAP_AB) != 0;
  out.num_signals = mk__gemm_num_signals(&sh, e);
  memcpy(info, &out, info->struct_size);
  mk__clear_error();
  return MK_OK;
}

mk_status mk_gemm_fp8(const mk_gemm_fp8_args *args, void *ws, size_t ws_bytes, void *stream) {
  static const char fn[] = "mk_gemm_fp8";
  mk_gemm_fp8_args a;
  mk__gemm_shape sh;
  const mk__entry *e = NULL;
  mk__gemm_params p;
  int sms = 0;
  mk_status st;
  (void)ws;
  (void)ws_bytes;
  if ((st = mk__gemm_prepare(fn, args, &a, &sh, &e, &sms)) != MK_OK) return st;
  memset(&p, 0, sizeof p);
  p.a = a.a.data;
  p.sfa = (const float *)a.a_scales.data;
  p.b = a.b.data;
  p.sfb = (const float *)a.b_scales.data;
  p.d = a.d.data;
  p.m_indices = (const int32_t *)a.m_indices.data;
  p.masked_m = (const int32_t *)a.masked_m.data;
  p.signal = (int32_t *)a.signal.data;
  if (sh.kind == MK_GEMM_GROUPED_MASKED) {
    p.lda = a.a.strides[1];
    p.a_group_stride = a.a.strides[0];
    p.sfa_ld = a.a_scales.strides[2];
    p.sfa_group_stride = a.a_scales.strides[0];
    p.ldd = a.d.strides[1];
    p.d_group_stride = a.d.strides[0];
  } else {
    p.lda = a.a.strides[0];
    p.sfa_ld = a.a_scales.strides[1];
    p.ldd = a.d.strides[0];
  }
  if (sh.kind == MK_GEMM_DENSE) {
    p.ldb = a.b.strides[0];
    p.sfb_stride[0] = 0;
    p.sfb_stride[1] = a.b_scales.strides[0];
    p.sfb_stride[2] = a.b_scales.strides[1];
  } else {
    p.ldb = a.b.strides[1];
    p.b_group_stride = a.b.strides[0];
    p.sfb_stride[0] = a.b_scales.strides[0];
    p.sfb_stride[1] = a.b_scales.strides[1];
    p.sfb_stride[2] = a.b_scales.strides[2];
  }
  p.m = sh.m;
  p.groups = (int32_t)sh.groups;
  p.signal_group_stride = mk__ceil_div(sh.m, e->block_m);
  p.num_sms = sms;
  p.pdl = mk__pdl_mode;
  return mk__launch(fn, e, &p, stream);
}

#endif /* MOEKIT_API_IMPL_GEMM_H */
