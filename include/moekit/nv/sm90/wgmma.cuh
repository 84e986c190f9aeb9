/* moekit/nv/sm90/wgmma.cuh - warpgroup MMA (wgmma.mma_async) for FP8 on Hopper.
 *
 * wgmma_e4m3<N>::mma(d, desc_a, desc_b, accumulate) issues one
 *   wgmma.mma_async.sync.aligned.m64nNk32.f32.e4m3.e4m3
 * for N = 8, 16, ..., 256: D[64, N] (+)= A[64, 32] * B[N, 32]^T, both
 * operands K-major in shared memory (FP8 wgmma has no transpose), described
 * by moekit/nv/sm90/smem_desc.h. accumulate = 0 overwrites D (no need to
 * zero it first). All four warps of the warpgroup must issue it together.
 *
 * The accumulator d[N / 2] of thread t (warp w = t / 32 of the warpgroup,
 * lane l = t % 32) holds, for i = 0 .. N/8 - 1:
 *   d[4i + 0], d[4i + 1]   row 16 w + l / 4,      columns 8 i + 2 (l % 4) + {0, 1}
 *   d[4i + 2], d[4i + 3]   row 16 w + l / 4 + 8,  the same columns
 * e.g. lane 5 of warp 1 owns rows 17 and 25, columns 2-3, 10-11, 18-19, ...
 *
 * A k-block is issued as
 *   wgmma_fence();                           // acc registers were read/written by other code
 *   for k: wgmma_e4m3<N>::mma(acc, a + k, b + k, k > 0);
 *   wgmma_commit();
 *   wgmma_wait<0>();                         // results are in acc
 *   wgmma_fence_operands(acc);               // keep reads of acc after the wait
 * NOTE: the asm only ties acc to the mma statement; without the operand fence
 * the compiler may schedule reads of acc between the mma and the wait, which
 * would read registers the tensor core has not written yet.
 */
#ifndef MOEKIT_NV_SM90_WGMMA_CUH
#define MOEKIT_NV_SM90_WGMMA_CUH

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "moekit/nv/sm90/wgmma.cuh needs sm_90a (wgmma): compile with -gencode=arch=compute_90a,code=sm_90a"
#endif

#include <stdint.h>

#include "moekit/core/platform.h"
#include "moekit/nv/sm90/smem_desc.h"

namespace mk {
namespace sm90 {

MK_DEV void wgmma_fence(void) { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
MK_DEV void wgmma_commit(void) { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int kPending>
MK_DEV void wgmma_wait(void) {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(kPending) : "memory");
}

template <int kCount>
MK_DEV void wgmma_fence_operands(float (&d)[kCount]) {
#pragma unroll
  for (int i = 0; i < kCount; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

/* ---- m64nNk32 e4m3 x e4m3 -> f32 --------------------------------------------------- */
template <int N>
struct wgmma_e4m3;

/* The register list of the brace operand: MK__WG_L<j> names %0 .. %(4j-1),
 * MK__WG_P<j> binds them to d[0 .. 4j-1]. The descriptors and the scale-d
 * flag follow as operands %(N/2), %(N/2+1), %(N/2+2). */
#define MK__WG_L1 "%0, %1, %2, %3"
#define MK__WG_L2 MK__WG_L1 ", %4, %5, %6, %7"
#define MK__WG_L3 MK__WG_L2 ", %8, %9, %10, %11"
#define MK__WG_L4 MK__WG_L3 ", %12, %13, %14, %15"
#define MK__WG_L5 MK__WG_L4 ", %16, %17, %18, %19"
#define MK__WG_L6 MK__WG_L5 ", %20, %21, %22, %23"
#define MK__WG_L7 MK__WG_L6 ", %24, %25, %26, %27"
#define MK__WG_L8 MK__WG_L7 ", %28, %29, %30, %31"
#define MK__WG_L9 MK__WG_L8 ", %32, %33, %34, %35"
#define MK__WG_L10 MK__WG_L9 ", %36, %37, %38, %39"
#define MK__WG_L11 MK__WG_L10 ", %40, %41, %42, %43"
#define MK__WG_L12 MK__WG_L11 ", %44, %45, %46, %47"
#define MK__WG_L13 MK__WG_L12 ", %48, %49, %50, %51"
#define MK__WG_L14 MK__WG_L13 ", %52, %53, %54, %55"
#define MK__WG_L15 MK__WG_L14 ", %56, %57, %58, %59"
#define MK__WG_L16 MK__WG_L15 ", %60, %61, %62, %63"
#define MK__WG_L17 MK__WG_L16 ", %64, %65, %66, %67"
#define MK__WG_L18 MK__WG_L17 ", %68, %69, %70, %71"
#define MK__WG_L19 MK__WG_L18 ", %72, %73, %74, %75"
#define MK__WG_L20 MK__WG_L19 ", %76, %77, %78, %79"
#define MK__WG_L21 MK__WG_L20 ", %80, %81, %82, %83"
#define MK__WG_L22 MK__WG_L21 ", %84, %85, %86, %87"
#define MK__WG_L23 MK__WG_L22 ", %88, %89, %90, %91"
#define MK__WG_L24 MK__WG_L23 ", %92, %93, %94, %95"
#define MK__WG_L25 MK__WG_L24 ", %96, %97, %98, %99"
#define MK__WG_L26 MK__WG_L25 ", %100, %101, %102, %103"
#define MK__WG_L27 MK__WG_L26 ", %104, %105, %106, %107"
#define MK__WG_L28 MK__WG_L27 ", %108, %109, %110, %111"
#define MK__WG_L29 MK__WG_L28 ", %112, %113, %114, %115"
#define MK__WG_L30 MK__WG_L29 ", %116, %117, %118, %119"
#define MK__WG_L31 MK__WG_L30 ", %120, %121, %122, %123"
#define MK__WG_L32 MK__WG_L31 ", %124, %125, %126, %127"
#define MK__WG_P1 "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
#define MK__WG_P2 MK__WG_P1, "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7])
#define MK__WG_P3 MK__WG_P2, "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11])
#define MK__WG_P4 MK__WG_P3, "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
#define MK__WG_P5 MK__WG_P4, "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19])
#define MK__WG_P6 MK__WG_P5, "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23])
#define MK__WG_P7 MK__WG_P6, "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27])
#define MK__WG_P8 MK__WG_P7, "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
#define MK__WG_P9 MK__WG_P8, "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35])
#define MK__WG_P10 MK__WG_P9, "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39])
#define MK__WG_P11 MK__WG_P10, "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43])
#define MK__WG_P12 MK__WG_P11, "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47])
#define MK__WG_P13 MK__WG_P12, "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51])
#define MK__WG_P14 MK__WG_P13, "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55])
#define MK__WG_P15 MK__WG_P14, "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59])
#define MK__WG_P16 MK__WG_P15, "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
#define MK__WG_P17 MK__WG_P16, "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67])
#define MK__WG_P18 MK__WG_P17, "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71])
#define MK__WG_P19 MK__WG_P18, "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75])
#define MK__WG_P20 MK__WG_P19, "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79])
#define MK__WG_P21 MK__WG_P20, "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83])
#define MK__WG_P22 MK__WG_P21, "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87])
#define MK__WG_P23 MK__WG_P22, "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91])
#define MK__WG_P24 MK__WG_P23, "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95])
#define MK__WG_P25 MK__WG_P24, "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99])
#define MK__WG_P26 MK__WG_P25, "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103])
#define MK__WG_P27 MK__WG_P26, "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107])
#define MK__WG_P28 MK__WG_P27, "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111])
#define MK__WG_P29 MK__WG_P28, "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115])
#define MK__WG_P30 MK__WG_P29, "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119])
#define MK__WG_P31 MK__WG_P30, "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123])
#define MK__WG_P32 MK__WG_P31, "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])

#define MK__WGMMA_E4M3(N, J, DA, DB, SC)                                                                    \
  template <>                                                                                              \
  struct wgmma_e4m3<N> {                                                                                   \
    static constexpr int kRegs = (N) / 2;                                                                  \
    MK_DEV static void mma(float (&d)[(N) / 2], uint64_t desc_a, uint64_t desc_b, uint32_t accumulate) {   \
      asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" SC ", 0;\n"                                        \
                   "wgmma.mma_async.sync.aligned.m64n" #N "k32.f32.e4m3.e4m3 {" MK__WG_L##J "}, %" DA ", %" DB \
                   ", p, 1, 1;\n}\n"                                                                       \
                   : MK__WG_P##J                                                                           \
                   : "l"(desc_a), "l"(desc_b), "r"(accumulate));                                           \
    }                                                                                                      \
  };

MK__WGMMA_E4M3(8, 1, "4", "5", "6")
MK__WGMMA_E4M3(16, 2, "8", "9", "10")
MK__WGMMA_E4M3(24, 3, "12", "13", "14")
MK__WGMMA_E4M3(32, 4, "16", "17", "18")
MK__WGMMA_E4M3(40, 5, "20", "21", "22")
MK__WGMMA_E4M3(48, 6, "24", "25", "26")
MK__WGMMA_E4M3(56, 7, "28", "29", "30")
MK__WGMMA_E4M3(64, 8, "32", "33", "34")
MK__WGMMA_E4M3(72, 9, "36", "37", "38")
MK__WGMMA_E4M3(80, 10, "40", "41", "42")
MK__WGMMA_E4M3(88, 11, "44", "45", "46")
MK__WGMMA_E4M3(96, 12, "48", "49", "50")
MK__WGMMA_E4M3(104, 13, "52", "53", "54")
MK__WGMMA_E4M3(112, 14, "56", "57", "58")
MK__WGMMA_E4M3(120, 15, "60", "61", "62")
MK__WGMMA_E4M3(128, 16, "64", "65", "66")
MK__WGMMA_E4M3(136, 17, "68", "69", "70")
MK__WGMMA_E4M3(144, 18, "72", "73", "74")
MK__WGMMA_E4M3(152, 19, "76", "77", "78")
MK__WGMMA_E4M3(160, 20, "80", "81", "82")
MK__WGMMA_E4M3(168, 21, "84", "85", "86")
MK__WGMMA_E4M3(176, 22, "88", "89", "90")
MK__WGMMA_E4M3(184, 23, "92", "93", "94")
MK__WGMMA_E4M3(192, 24, "96", "97", "98")
MK__WGMMA_E4M3(200, 25, "100", "101", "102")
MK__WGMMA_E4M3(208, 26, "104", "105", "106")
MK__WGMMA_E4M3(216, 27, "108", "109", "110")
MK__WGMMA_E4M3(224, 28, "112", "113", "114")
MK__WGMMA_E4M3(232, 29, "116", "117", "118")
MK__WGMMA_E4M3(240, 30, "120", "121", "122")
MK__WGMMA_E4M3(248, 31, "124", "125", "126")
MK__WGMMA_E4M3(256, 32, "128", "129", "130")

#undef MK__WGMMA_E4M3

}  // namespace sm90
}  // namespace mk

#endif /* MOEKIT_NV_SM90_WGMMA_CUH */
