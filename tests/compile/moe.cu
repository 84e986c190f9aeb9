/* moe.cu - the MoE glue kernels in one TU for every arch (tests/compile/test_compile.py). */
#include "moekit/kernels/moe/combine.cuh"
#include "moekit/kernels/moe/dispatch.cuh"
#include "moekit/kernels/moe/swiglu.cuh"

template MK_KERNEL void mk::moe::dispatch_kernel<7168, 128>(const mk__dispatch_params);
template MK_KERNEL void mk::moe::dispatch_kernel<2880, 32>(const mk__dispatch_params);
template MK_KERNEL void mk::moe::swiglu_fp8_kernel<2048, false, false>(const mk__swiglu_params);
template MK_KERNEL void mk::moe::swiglu_fp8_kernel<2048, true, true>(const mk__swiglu_params);
template MK_KERNEL void mk::moe::combine_kernel<7168>(const mk__combine_params);
