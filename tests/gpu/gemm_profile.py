#!/usr/bin/env python3
"""One dense FP8 GEMM call per listed kernel, for a profiler to look at.

    ncu ... python3 tests/gpu/gemm_profile.py --builddir build-ds --mnk 4096,7168,16384 KERNEL [KERNEL ...]

Each kernel (a registry name, forced through mk_gemm_fp8_args.kernel) runs
twice on the same random operands: a warm-up call, then the call to profile
(ncu --launch-skip / --launch-count select it). Prints the kernel names in
launch order so the profiler's report can be matched to them.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gemm_bench as gb  # noqa: E402  (the bench's dense problem: operands, scales, the call)
import mk  # noqa: E402

import torch  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--builddir", default="build-ds")
    ap.add_argument("--mnk", default="4096,7168,16384")
    ap.add_argument("kernels", nargs="+")
    a = ap.parse_args()
    m, n, k = (int(v) for v in a.mnk.split(","))
    lib = mk.Library(a.builddir)
    for name in a.kernels:
        torch.manual_seed(0)
        gb.FORCE["kernel"] = name.encode()
        run = gb.dense_problem(lib, m, n, k)[0]
        for _ in range(2):
            run()
        torch.cuda.synchronize()
        print(f"# ran {name} twice", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
