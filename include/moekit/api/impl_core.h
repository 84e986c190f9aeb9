/* moekit/api/impl_core.h - implementation of the shared parts of the C API:
 * status strings, the thread-local error, tensor checks, registry queries.
 * Compiled once per instance library (see moekit.h, MOEKIT_IMPLEMENTATION).
 */
#ifndef MOEKIT_API_IMPL_CORE_H
#define MOEKIT_API_IMPL_CORE_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "moekit/api/internal.h"

/* ---- errors -------------------------------------------------------------------- */
static _Thread_local char mk__err[512];

const char *mk_last_error(void) { return mk__err; }

static mk_status mk__fail(mk_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(mk__err, sizeof mk__err, fmt, ap);
  va_end(ap);
  return status;
}

static void mk__clear_error(void) { mk__err[0] = 0; }

/* Launch flags (MK__PDL_*) for the kernels of the calls made while it is set:
 * the layer sets it around its chain of entry-point calls; 0 otherwise. */
static _Thread_local int32_t mk__pdl_mode;

const char *mk_status_str(mk_status s) {
  switch (s) {
    case MK_OK: return "ok";
    case MK_ERR_INVALID_ARG: return "invalid argument";
    case MK_ERR_DTYPE: return "wrong dtype";
    case MK_ERR_SHAPE: return "bad shape or layout";
    case MK_ERR_UNSUPPORTED: return "no instance serves this call";
    case MK_ERR_WORKSPACE: return "workspace too small";
    case MK_ERR_DEVICE: return "device runtime error";
    case MK_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

/* ---- dtypes and tensors -------------------------------------------------------- */
static const struct { const char *name; size_t size; } mk__dtypes[MK_DTYPE_COUNT_] = {
  {"invalid", 0}, {"f32", 4}, {"f16", 2}, {"bf16", 2}, {"e4m3", 1}, {"e4m3fnuz", 1},
  {"e5m2", 1}, {"e2m1x2", 1}, {"ue8m0", 1}, {"ue8m0x4", 4}, {"ue4m3", 1},
  {"i32", 4}, {"i64", 8}, {"u8", 1},
};

size_t mk_dtype_size(mk_dtype d) { return (d > 0 && d < MK_DTYPE_COUNT_) ? mk__dtypes[d].size : 0; }
const char *mk_dtype_name(mk_dtype d) { return (d > 0 && d < MK_DTYPE_COUNT_) ? mk__dtypes[d].name : "invalid"; }

static mk_tensor mk__tensor(void *data, mk_dtype dtype, int ndim, const int64_t *shape) {
  mk_tensor t;
  int64_t stride = 1;
  int i;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.dtype = dtype;
  t.ndim = ndim;
  for (i = ndim - 1; i >= 0; --i) {
    t.shape[i] = shape[i];
    t.strides[i] = stride;
    stride *= shape[i];
  }
  return t;
}

mk_tensor mk_tensor_1d(void *data, mk_dtype dtype, int64_t n) { return mk__tensor(data, dtype, 1, &n); }
mk_tensor mk_tensor_2d(void *data, mk_dtype dtype, int64_t rows, int64_t cols) {
  const int64_t s[2] = {rows, cols};
  return mk__tensor(data, dtype, 2, s);
}
mk_tensor mk_tensor_3d(void *data, mk_dtype dtype, int64_t d0, int64_t d1, int64_t d2) {
  const int64_t s[3] = {d0, d1, d2};
  return mk__tensor(data, dtype, 3, s);
}

/* Checks what every tensor argument must satisfy: data non-null and aligned to
 * `align` bytes, the dtype, the rank, positive extents. `fn` and `name` go
 * into the message, e.g. "mk_quant_fp8: x: ...". */
static mk_status mk__check_tensor(const char *fn, const char *name, const mk_tensor *t,
                                  mk_dtype dtype, int ndim, size_t align) {
  int i;
  if (t->data == NULL) return mk__fail(MK_ERR_INVALID_ARG, "%s: %s: data is NULL", fn, name);
  if (align > 1 && ((uintptr_t)t->data % align) != 0)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: %s: data %p is not %zu-byte aligned", fn, name, t->data, align);
  if (t->dtype != dtype)
    return mk__fail(MK_ERR_DTYPE, "%s: %s: dtype is %s, expected %s", fn, name, mk_dtype_name(t->dtype),
                    mk_dtype_name(dtype));
  if (t->ndim != ndim)
    return mk__fail(MK_ERR_SHAPE, "%s: %s: ndim is %d, expected %d", fn, name, (int)t->ndim, ndim);
  for (i = 0; i < ndim; ++i)
    if (t->shape[i] <= 0)
      return mk__fail(MK_ERR_SHAPE, "%s: %s: shape[%d] = %lld must be positive", fn, name, i,
                      (long long)t->shape[i]);
  return MK_OK;
}

/* Copies a caller's args struct into a zeroed local of the current size, so a
 * caller built against an older, shorter struct reads zeros for new fields. */
static mk_status mk__load_args(const char *fn, void *local, size_t local_size, const void *args) {
  uint32_t struct_size;
  if (args == NULL) return mk__fail(MK_ERR_INVALID_ARG, "%s: args is NULL", fn);
  memcpy(&struct_size, args, sizeof struct_size);
  if (struct_size < sizeof(uint32_t) || struct_size > local_size)
    return mk__fail(MK_ERR_INVALID_ARG, "%s: args->struct_size is %u, expected %zu (set it to sizeof the struct)",
                    fn, struct_size, local_size);
  memset(local, 0, local_size);
  memcpy(local, args, struct_size);
  return MK_OK;
}

/* workspace_size of an op that needs none: checks the pointers, reports 0. */
static mk_status mk__no_workspace(const char *fn, const void *args, size_t *bytes) {
  if (args == NULL) return mk__fail(MK_ERR_INVALID_ARG, "%s: args is NULL", fn);
  if (bytes == NULL) return mk__fail(MK_ERR_INVALID_ARG, "%s: bytes is NULL", fn);
  *bytes = 0;
  mk__clear_error();
  return MK_OK;
}

/* ---- registry -------------------------------------------------------------------- */
static const char *const mk__op_names[MK_OP_COUNT_] = {
  "invalid", "quant_fp8", "quant_mxfp4", "quant_nvfp4", "route", "gemm_fp8", "moe_dispatch", "moe_swiglu",
  "moe_combine", "moe_reference",
};

const char *mk_op_name(mk_op op) { return (op > 0 && op < MK_OP_COUNT_) ? mk__op_names[op] : "invalid"; }

static const char *mk__arch_name(int arch) {
  switch (arch) {
    case 90: return "sm_90a";
    case 100: return "sm_100a";
    case 942: return "gfx942";
    case 950: return "gfx950";
  }
  return "unknown";
}

int mk_registry_count(void) { return mk__registry_len; }
const char *mk_library_model(void) { return mk__model_name; }

mk_status mk_registry_describe(int index, mk_kernel_info *info) {
  const mk__entry *e;
  if (info == NULL) return mk__fail(MK_ERR_INVALID_ARG, "mk_registry_describe: info is NULL");
  if (info->struct_size < sizeof(uint32_t) || info->struct_size > sizeof *info)
    return mk__fail(MK_ERR_INVALID_ARG, "mk_registry_describe: info->struct_size is %u, expected %zu",
                    info->struct_size, sizeof *info);
  if (index < 0 || index >= mk__registry_len)
    return mk__fail(MK_ERR_INVALID_ARG, "mk_registry_describe: index %d outside [0, %d)", index, mk__registry_len);
  e = &mk__registry[index];
  {
    mk_kernel_info out;
    memset(&out, 0, sizeof out);
    out.struct_size = info->struct_size;
    out.name = e->name;
    out.op = e->op;
    out.arch = mk__arch_name(e->arch);
    out.variant = e->variant;
    out.n = e->n;
    out.k = e->k;
    out.experts = e->experts;
    out.top_k = e->top_k;
    out.block_m = e->block_m;
    out.block_n = e->block_n;
    out.stages = e->stages;
    memcpy(info, &out, info->struct_size); /* an older caller gets the prefix it knows */
  }
  return MK_OK;
}

int mk_registry_find(mk_op op, int64_t n, int64_t k, int32_t experts, int32_t top_k) {
  int i;
  for (i = 0; i < mk__registry_len; ++i) {
    const mk__entry *e = &mk__registry[i];
    if (e->op == op && (!n || e->n == n) && (!k || e->k == k) && (!experts || e->experts == experts) &&
        (!top_k || e->top_k == top_k))
      return i;
  }
  return -1;
}

/* The current device's arch, cached per thread after the first query. */
static mk_status mk__current_arch(const char *fn, int *arch) {
  static _Thread_local int cached = 0;
  if (!cached) {
    int a = 0;
    const int rc = mk__device_arch(&a);
    if (rc != 0) return mk__fail(MK_ERR_DEVICE, "%s: cannot query the GPU: %s", fn, mk__device_error_string(rc));
    cached = a;
  }
  *arch = cached;
  return MK_OK;
}

/* Finds the instance for (op, variant, n, k, experts, top_k) on this device.
 * Shape misses are reported before the device is queried, so argument errors
 * never depend on having a GPU. `what` describes the shape for the message. */
static mk_status mk__select(const char *fn, mk_op op, uint32_t variant, int64_t n, int64_t k, int32_t experts,
                            int32_t top_k, const char *what, const mk__entry **out) {
  char built[160] = "";
  size_t used = 0;
  int i, arch = 0, any = 0;
  mk_status st;
  for (i = 0; i < mk__registry_len; ++i) {
    const mk__entry *e = &mk__registry[i];
    if (e->op != op || e->variant != variant) continue;
    if (e->n == n && e->k == k && e->experts == experts && e->top_k == top_k) any = 1;
    else if (used + 24 < sizeof built)
      used += (size_t)snprintf(built + used, sizeof built - used, "%s%s", used ? ", " : "", e->name);
  }
  if (!any)
    return mk__fail(MK_ERR_UNSUPPORTED, "%s: no instance in library '%s' serves %s (built: %s)", fn, mk__model_name,
                    what, used ? built : "none of this op");
  if ((st = mk__current_arch(fn, &arch)) != MK_OK) return st;
  for (i = 0; i < mk__registry_len; ++i) {
    const mk__entry *e = &mk__registry[i];
    if (e->op == op && e->variant == variant && e->n == n && e->k == k && e->experts == experts &&
        e->top_k == top_k && e->arch == arch) {
      *out = e;
      return MK_OK;
    }
  }
  return mk__fail(MK_ERR_UNSUPPORTED, "%s: %s is built, but not for this GPU (compute capability %d.%d)", fn, what,
                  arch / 10, arch % 10);
}

static mk_status mk__launch(const char *fn, const mk__entry *e, const void *params, void *stream) {
  const int rc = e->launch(params, stream);
  if (rc != 0) return mk__fail(MK_ERR_DEVICE, "%s: launching %s failed: %s", fn, e->name, mk__device_error_string(rc));
  mk__clear_error();
  return MK_OK;
}

#endif /* MOEKIT_API_IMPL_CORE_H */
