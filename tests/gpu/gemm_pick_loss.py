#!/usr/bin/env python3
"""How much the GEMM cost model's picks lose against the fastest built configuration, on measured sweeps.

    python3 tests/gpu/gemm_pick_loss.py SWEEP.md [SWEEP.md ...] [-v]

SWEEP.md: a `gemm_bench.py --sweep` output (its "Every configuration" lines,
full instance names) or a compact file such as docs/data/gemm_sweep_h100_run10.md
("- dense M x N x K: bm128_bn192_mc2b 98.2, ..."). For every dense shape with two
or more timed configurations: the configuration gen/ops/gemm.py's cost model
(the Python port of include/moekit/api/gemm_cost.h) ranks first among those
timed, its time over the fastest one's. Prints each file's geometric mean and
worst loss; -v lists every shape that loses more than 0.5%. Host only (no GPU):
the data to refit the model with, and to check a refit against.
"""

import argparse
import math
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from gen.ops import gemm as g  # noqa: E402

_CFG = re.compile(r"bm(\d+)_bn(\d+)(?:_st\d+)?_mc(1|2a|2b)(?:_swapab(\d)|_swap)?")


def parse(path):
    """[(section, {(m, n, k): {Config: us}})]: the dense shapes of each "## " section of one sweep file
    (the passes of a data file; a gemm_bench.py output has one such section)."""
    sections, title, out = [], "", {}
    for line in Path(path).read_text().splitlines():
        if line.startswith("## "):
            if out:
                sections.append((title, out))
            title, out = line[3:].strip(), {}
            continue
        m = re.match(r"- dense (\d+) x (\d+) x (\d+): (.*)", line.strip())
        if not m:
            continue
        res = {}
        for cell in m.group(4).split(", "):
            c = _CFG.search(cell)
            t = re.search(r"([\d.]+|inf) us", cell) or re.search(r" ([\d.]+|inf)$", cell)
            if not c or not t:
                continue
            bm, bn, mc, sw = c.groups()
            swap = sw == "1" or cell.rstrip().split(" ")[0].endswith("_swap")
            res[g.Config(int(bm), int(bn), swap, {"1": "", "2a": "a", "2b": "b"}[mc])] = float(t.group(1))
        if res:
            out[tuple(int(x) for x in m.groups()[:3])] = res
    if out:
        sections.append((title, out))
    return sections


def losses(data, cost=None):
    """{shape: (pick, its us, best config, best us)} under `cost(m, n, k, config)` (default: the shipped model)."""
    cost = cost or (lambda m, n, k, c: g.cost("dense", m, 1, n, k, c))
    out = {}
    for (m, n, k), res in data.items():
        if len(res) < 2:
            continue
        pick = min(res, key=lambda c: cost(m, n, k, c))
        best = min(res, key=res.get)
        out[(m, n, k)] = (pick, res[pick], best, res[best])
    return out


def name(c):
    return f"{c.block_m}x{c.block_n}{' sharing ' + c.mcast.upper() if c.mcast else ''}{' swap-AB' if c.swap_ab else ''}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweeps", nargs="+")
    ap.add_argument("-v", action="store_true", help="list the shapes that lose more than 0.5%%")
    a = ap.parse_args()
    for path in a.sweeps:
        sections = parse(path)
        if not sections:
            print(f"{path}: no dense sweep lines")
            return 1
        for title, data in sections:
            if report(f"{path} ({title})", losses(data), a.v):
                return 1
    return 0


def report(label, ls, verbose):
    if not ls:
        print(f"{label}: no shape with two timed configurations")
        return 1
    r = [us / best_us for _, us, _, best_us in ls.values()]
    print(f"{label}: {len(r)} shapes, pick loss geometric mean {math.exp(sum(map(math.log, r)) / len(r)) - 1:.2%}, "
          f"worst {max(r) - 1:.1%}")
    if verbose:
        for (m, n, k), (pick, us, best, best_us) in sorted(ls.items()):
            if us > best_us * 1.005:
                print(f"  {m} x {n} x {k}: pick {name(pick)} {us:.1f} us, best {name(best)} {best_us:.1f} "
                      f"(+{us / best_us - 1:.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
