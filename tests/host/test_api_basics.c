/* test_api_basics.c - argument validation of the registry, dtypes, tensors and status strings (tests/host/test_api.py runs it). */
#include "api_harness.h"

/* ---- registry and basics ---------------------------------------------------------- */
static void test_basics(void) {
  int i, distinct = 1;
  for (i = 0; i <= 7; ++i) {
    int j;
    for (j = 0; j < i; ++j)
      if (!strcmp(mk_status_str((mk_status)i), mk_status_str((mk_status)j))) distinct = 0;
  }
  report("status_strings_distinct", distinct, "two statuses share a string");
  report("status_str_unknown", !strcmp(mk_status_str((mk_status)99), "unknown status"), mk_status_str((mk_status)99));
  report("dtype_sizes", mk_dtype_size(MK_DTYPE_BF16) == 2 && mk_dtype_size(MK_DTYPE_UE8M0X4) == 4 &&
                            mk_dtype_size(MK_DTYPE_E2M1X2) == 1 && mk_dtype_size((mk_dtype)99) == 0,
         "wrong size");
  report("dtype_names", !strcmp(mk_dtype_name(MK_DTYPE_E4M3), "e4m3") && !strcmp(mk_dtype_name((mk_dtype)-1), "invalid"),
         mk_dtype_name(MK_DTYPE_E4M3));
  {
    mk_tensor t = mk_tensor_3d((void *)0x100, MK_DTYPE_F32, 2, 3, 4);
    report("tensor_3d_strides", t.ndim == 3 && t.strides[0] == 12 && t.strides[1] == 4 && t.strides[2] == 1, "strides");
  }
  report("library_model", !strcmp(mk_library_model(), MOEKIT_MODEL), mk_library_model());
  report("registry_count", mk_registry_count() == MOEKIT_NUM_INSTANCES, "count differs from instances.h");
  {
    mk_kernel_info info;
    int ok = 1;
    for (i = 0; i < mk_registry_count(); ++i) {
      memset(&info, 0, sizeof info);
      info.struct_size = sizeof info;
      if (mk_registry_describe(i, &info) != MK_OK || !info.name || !info.arch || info.op <= 0 ||
          strcmp(mk_op_name(info.op), "invalid") == 0)
        ok = 0;
    }
    report("registry_describe_all", ok, mk_last_error());
    info.struct_size = sizeof info;
    expect("registry_describe_negative", mk_registry_describe(-1, &info), MK_ERR_INVALID_ARG, "index -1");
    expect("registry_describe_past_end", mk_registry_describe(mk_registry_count(), &info), MK_ERR_INVALID_ARG,
           "outside");
    expect("registry_describe_null", mk_registry_describe(0, NULL), MK_ERR_INVALID_ARG, "info is NULL");
    info.struct_size = 0;
    expect("registry_describe_struct_size", mk_registry_describe(0, &info), MK_ERR_INVALID_ARG, "struct_size");
  }
  report("registry_find_hit", mk_registry_find(MK_OP_QUANT_FP8, 0, MOEKIT_MODEL_HIDDEN, 0, 0) >= 0, "hidden K missing");
  report("registry_find_miss", mk_registry_find(MK_OP_QUANT_FP8, 0, 12345, 0, 0) == -1, "found K=12345");
}

int main(void) {
  static void (*const tests[])(void) = {test_basics};
  return api_main(tests, (int)(sizeof tests / sizeof tests[0]));
}
