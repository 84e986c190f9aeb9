#!/usr/bin/env python3
"""Decode GEMMs streaming their weights under different L2 and memory states, in one process.

    python3 tests/gpu/decode_probe.py BUILDDIR G,PER,N,K [G,PER,N,K ...]

For each masked shape (G experts, PER tokens each, weights [G, N, K]) the
library's pick runs on fresh random data in five variants, each timed as
gemm_bench.py times kernels (torch.profiler, L2 flushed before every call):
  contiguous    weights [G, N, K], L2 flushed by a 512 MiB write
  pad+256       rows K + 256 bytes apart (DRAM channel mapping of 2^n rows)
  pad+128       rows K + 128 bytes apart
  second alloc  contiguous again, a new allocation
  read flush    contiguous, L2 flushed by a 512 MiB read: no dirty lines left
and a torch read of as many bytes (a sum) as a read-bandwidth reference. The
problems are gemm_bench.py's masked ones with 16 rows per expert.
Prints kernel us, weight bytes / us and that as a share of the
device-to-device copy bandwidth measured in the same run (docs/perf.md, FP8
GEMMs run 4, holds the first results).
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gemm_bench as gb  # noqa: E402
import mk  # noqa: E402

DEV = "cuda"


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    lib = mk.Library(sys.argv[1])
    shapes = [tuple(int(v) for v in s.split(",")) for s in sys.argv[2:]]
    write, read = gb.Timer(10, "write"), gb.Timer(10, "read")
    copy_bw = gb.copy_bandwidth(read)
    print(f"# {torch.cuda.get_device_name()}: copy {copy_bw / 1e12:.2f} TB/s")
    for g, per, n, k in shapes:
        wbytes = g * n * k
        cells, keep = [], []
        for label, pad, timer in (("contiguous", 0, write), ("pad+256", 256, write), ("pad+128", 128, write),
                                  ("second alloc", 0, write), ("read flush", 0, read)):
            run, info, _, _, _ = gb.masked_problem(lib, g, per, n, k, max_m=16, pad=pad)
            keep.append(run)  # the problems stay allocated together, as they were timed
            us = timer.kernel_us(run)
            cells.append(f"{label} {us:.1f} us {wbytes / us / 1e6:.2f} TB/s {100 * wbytes / (us * 1e-6) / copy_bw:.0f}%")
        weights = torch.ones(wbytes // 8, dtype=torch.int64, device=DEV)  # the same bytes, read by torch
        us = write.kernel_us(lambda: weights.sum())
        cells.append(f"torch read (sum) {us:.1f} us {wbytes / us / 1e6:.2f} TB/s")
        print(f"- {g}x{per} x {n} x {k} [{info.kernel.decode()}]: " + "; ".join(cells), flush=True)
        del keep
        torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
