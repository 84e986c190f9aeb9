"""The routing kernels, run on the CPU by the fiber emulator (route_emu.h)
through the real C API, against the numpy reference of tests/gpu/route_ref.py.

Builds libmoekit_route_emu.so twice: warps of 32 lanes (NVIDIA) and of 64
(AMD wavefronts: the plan, the lane layout and the reductions change). Every
case runs on the fused and the multi path, which must agree bit for bit, and
each must match the reference. What this cannot check (races, the GPU math
library, real timing) is left to tests/gpu/route_check.py.
"""

import itertools
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "gpu"))

# (kind, experts, top_k) built into the emulated library (route_emu_lib.cc)
EMU_SHAPES = [("softmax", 1, 1), ("softmax", 8, 2), ("softmax", 60, 4), ("softmax", 128, 8), ("softmax", 144, 6),
              ("softmax", 1024, 32), ("softmax_after_topk", 64, 1), ("softmax_after_topk", 128, 4),
              ("softmax_after_topk", 160, 6), ("sigmoid_grouped", 64, 4), ("sigmoid_grouped", 160, 6),
              ("sigmoid_grouped", 256, 8), ("sigmoid_grouped", 384, 8), ("sigmoid_grouped", 1024, 8)]


def build_emu(ctx, warp):
    cxx = shutil.which("g++") or shutil.which("c++")
    assert cxx, "no C++ compiler (g++) for the routing emulator"
    out = ctx.mkdtemp(f"route_emu{warp}")
    inc = [f"-I{ctx.srcdir}/include", f"-I{HERE}"]
    defs = [f"-DMK_ROUTE_WARP={warp}", f"-DMK__ROUTE_PLAN_WARP={warp}"]
    # NOTE: hidden visibility: both libraries load into this process, and
    # their same-named templates and fiber state must not be merged.
    ctx.run([cxx, "-std=c++17", "-O1", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wno-unused-function", *inc, *defs, "-c",
             HERE / "route_emu_lib.cc", "-o", out / "lib.o"])
    ctx.run([ctx.tool("cc"), "-std=c11", "-O1", "-fPIC", "-Wall", "-Wextra", "-Werror", *inc, *defs, "-c",
             HERE / "route_emu_api.c", "-o", out / "api.o"])
    so = out / "libmoekit_route_emu.so"
    ctx.run([cxx, "-shared", "-o", so, out / "lib.o", out / "api.o"])
    return so


def cases():
    from route_ref import Case, grouped_params
    out = []
    seed = itertools.count(1)
    dtypes = itertools.cycle(("bf16", "f16", "f32"))
    # every shape, a few sizes (one CTA, several CTAs and chunks), odd block_m
    for (kind, e, k), m, bm in itertools.product(EMU_SHAPES, (1, 19, 70), (1, 16, 5)):
        if e == 1024 and m == 70:
            continue
        ng, tg = grouped_params(e, k) if kind == "sigmoid_grouped" else (1, 1)
        out.append(Case(kind, e, k, m, dtype=next(dtypes), block_m=bm, n_group=ng, topk_group=tg,
                        scale=2.5 if kind == "sigmoid_grouped" else 1.0, seed=next(seed)))
    # adversarial inputs on the three model shapes
    for (kind, e, k), pattern, dt in itertools.product(
            [("sigmoid_grouped", 256, 8), ("softmax", 128, 8), ("softmax_after_topk", 128, 4)],
            ("ties", "equal", "neginf", "nan", "huge", "one_expert"), ("bf16", "f32")):
        ng, tg = (8, 4) if kind == "sigmoid_grouped" else (1, 1)
        out.append(Case(kind, e, k, 37, dtype=dt, block_m=8, n_group=ng, topk_group=tg, pattern=pattern,
                        seed=next(seed)))
    # expert parallelism, no renormalization, no bias, groups without a limit, M past a chunk
    out += [
        Case("sigmoid_grouped", 256, 8, 45, start=64, end=96, block_m=4, n_group=8, topk_group=4, seed=101),
        Case("softmax", 128, 8, 45, start=0, end=16, block_m=32, seed=102),
        Case("softmax", 144, 6, 30, start=143, end=144, block_m=2, seed=103),
        Case("softmax", 128, 8, 25, renormalize=False, dtype="f32", seed=104),
        Case("softmax", 1024, 32, 9, renormalize=False, seed=105),
        Case("sigmoid_grouped", 160, 6, 21, renormalize=False, bias=False, seed=106),
        Case("sigmoid_grouped", 384, 8, 26, n_group=1, topk_group=1, seed=107),
        Case("sigmoid_grouped", 256, 8, 17, n_group=8, topk_group=8, seed=108),
        Case("sigmoid_grouped", 1024, 8, 12, n_group=32, topk_group=3, seed=109),
        Case("softmax", 8, 2, 1500, block_m=128, seed=110),
        Case("softmax_after_topk", 128, 4, 1100, block_m=16, seed=111),
    ]
    return out


def run_cases(lib_path, warp):
    """Prints 'ok NAME' / 'not ok NAME: WHY' per case (run in a child process:
    an emulator abort must not take the test runner down)."""
    import mk
    import route_ref as ref
    import route_run
    os.environ.setdefault("MK_ROUTE_EMU_THREADS", "128")
    runner = route_run.Runner(mk.Library(path=lib_path), route_run.HostMem())
    for case in cases():
        name = f"w{warp}_{case.name()}"
        logits, bias = ref.make_inputs(case)
        ld, bd = runner.upload(logits, bias)
        problems = []
        try:
            problems = route_run.check_paths(runner, case, logits, bias, ld, bd)[0]
        except Exception as e:  # noqa: BLE001 - reported as this case's failure
            problems.append(f"{type(e).__name__}: {e}")
        why = " | ".join(problems[:6]).replace("\n", " ")
        print(f"ok {name}" if not problems else f"not ok {name}: {why}", flush=True)


def _run_all(ctx, warp):
    so = build_emu(ctx, warp)
    r = ctx.run([sys.executable, __file__, str(so), str(warp)], check=False)
    results = []
    for line in r.stdout.splitlines():
        if line.startswith("ok "):
            results.append((line[3:], True, ""))
        elif line.startswith("not ok "):
            name, _, why = line[7:].partition(": ")
            results.append((name, False, why))
    if r.returncode != 0 or len(results) != len(cases()):
        results.append(("exit", False, f"exit code {r.returncode} after {len(results)} of {len(cases())} cases\n"
                                       f"{r.stderr[-3000:]}"))
    return results


def test_route_emulated_warp32(ctx):
    return _run_all(ctx, 32)


def test_route_emulated_wave64(ctx):
    return _run_all(ctx, 64)


if __name__ == "__main__":
    run_cases(sys.argv[1], int(sys.argv[2]))
