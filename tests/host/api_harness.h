/* api_harness.h - what the C API tests share (tests/host/test_api_*.c).
 *
 * Prints one "ok <name>" or "not ok <name>: <why>" line per check
 * (tests/host/test_api.py turns them into sub-tests). Runs with or without a
 * GPU: with one, buffers are cudaMalloc'd and valid calls must succeed;
 * without, valid calls must get as far as MK_ERR_DEVICE.
 */
#ifndef MOEKIT_TESTS_API_HARNESS_H
#define MOEKIT_TESTS_API_HARNESS_H

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moekit/instances.h"
#include "moekit/moekit.h"

static int failures = 0;  /* each test program is one translation unit */

static inline void report(const char *name, int ok, const char *why) {
  if (ok) printf("ok %s\n", name);
  else {
    printf("not ok %s: %s\n", name, why);
    failures++;
  }
}

/* A call must fail with `want` and a message containing `needle`. */
static inline void expect(const char *name, mk_status got, mk_status want, const char *needle) {
  char why[768];
  if (got != want) {
    snprintf(why, sizeof why, "status %d (%s), expected %d (%s); message: %s", got, mk_status_str(got), want,
             mk_status_str(want), mk_last_error());
    report(name, 0, why);
  } else if (needle && !strstr(mk_last_error(), needle)) {
    snprintf(why, sizeof why, "message \"%s\" lacks \"%s\"", mk_last_error(), needle);
    report(name, 0, why);
  } else {
    report(name, 1, "");
  }
}

static int have_gpu = 0;

/* Device memory when there is a GPU, else 256-byte aligned host memory. */
static inline void *buf(size_t bytes) {
  void *p = NULL;
  if (have_gpu) {
    if (cudaMalloc(&p, bytes) != cudaSuccess) abort();
    cudaMemset(p, 0x5a, bytes);
  } else {
    p = aligned_alloc(256, (bytes + 255) / 256 * 256);
    memset(p, 0x5a, bytes);
  }
  return p;
}

/* Index buffers for valid calls: -1 everywhere (every row skipped), so a
 * valid call on a GPU never follows a poisoned index out of bounds. */
static inline void *index_buf(size_t bytes) {
  void *p = buf(bytes);
  if (have_gpu) cudaMemset(p, 0xff, bytes);
  else memset(p, 0xff, bytes);
  return p;
}

/* A valid call: MK_OK with a GPU, MK_ERR_DEVICE ("cannot query the GPU") without. */
static inline void expect_valid(const char *name, mk_status got) {
  if (have_gpu) expect(name, got, MK_OK, NULL);
  else expect(name, got, MK_ERR_DEVICE, "cannot query the GPU");
}

/* A valid call on a shape the library may not build: valid when an instance
 * of `op` serves K, else MK_ERR_UNSUPPORTED naming the miss. */
static inline void expect_served(const char *name, mk_status got, mk_op op, int64_t k) {
  if (mk_registry_find(op, 0, k, 0, 0) >= 0) expect_valid(name, got);
  else expect(name, got, MK_ERR_UNSUPPORTED, "no instance");
}


/* Every test program: run its checks, then make sure the device is still sane. */
static inline int api_main(void (*const *tests)(void), int n) {
  int count = 0, i;
  have_gpu = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  (void)cudaGetLastError();
  printf("# %s GPU\n", have_gpu ? "with a" : "without a");
  for (i = 0; i < n; ++i) tests[i]();
  if (have_gpu) report("device_sync", cudaDeviceSynchronize() == cudaSuccess, "a valid call failed on the device");
  return failures ? 1 : 0;
}

#endif /* MOEKIT_TESTS_API_HARNESS_H */
