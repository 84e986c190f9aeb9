/* moekit/api/runtime_none.h - device services of a library built without a
 * GPU runtime (only gfx archs, device code only): every query fails cleanly. */
#ifndef MOEKIT_API_RUNTIME_NONE_H
#define MOEKIT_API_RUNTIME_NONE_H

#include "moekit/api/internal.h"

int mk__device_arch(int *arch) { (void)arch; return 1; }
int mk__device_sm_count(int *count) { (void)count; return 1; }
const char *mk__device_error_string(int code) {
  (void)code;
  return "this library was built without a GPU runtime (gfx archs are device code only)";
}

int mk__device_event_record(void *event, void *stream) {
  (void)event;
  (void)stream;
  return 1;
}

#endif /* MOEKIT_API_RUNTIME_NONE_H */
