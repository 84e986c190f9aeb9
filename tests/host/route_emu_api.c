/* route_emu_api.c - the C API (moekit.h implementation, C11) of the emulated
 * routing library; see route_emu_lib.cc. MK__ROUTE_PLAN_WARP comes from the
 * build: 32 (NVIDIA) or 64 (AMD wavefronts). */
#define MOEKIT_IMPLEMENTATION
#include "moekit/moekit.h"
