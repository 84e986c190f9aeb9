#!/usr/bin/env python3
"""compute-sanitizer over every FP8 GEMM instance of a library, on small shapes.

    python3 tests/gpu/gemm_sanitize.py --builddir build [--tools memcheck,racecheck,synccheck] [-k SUBSTRING]

Builds tests/gpu/gemm_sanitize.c against build/lib/libmoekit_<model>.a, runs it
once plainly (a smoke test: every computed element must equal K, skipped rows
stay NaN, counters right) and once under each compute-sanitizer tool
(--error-exitcode 1). Takes a few minutes for the default library: racecheck is
the slow one. Prints one line per run; exit status 1 if any failed.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent.parent


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--builddir", default="build")
    ap.add_argument("--tools", default="memcheck,racecheck,synccheck")
    ap.add_argument("-k", default="", help="only instances whose name contains this")
    a = ap.parse_args()
    build = Path(a.builddir).resolve()
    cfg = json.loads((build / "config.json").read_text())
    exe = Path(tempfile.mkdtemp(prefix="moekit-sanitize-")) / "gemm_sanitize"
    cc = cfg["tools"]["cc"]["path"]
    subprocess.run([cc, "-std=c11", "-O1", "-g", f"-I{build}/include", f"-I{cfg['cuda_include']}",
                    str(SRC / "tests/gpu/gemm_sanitize.c"), str(build / "lib" / f"libmoekit_{cfg['model']}.a"),
                    f"-L{cfg['cuda_lib']}", f"-Wl,-rpath,{cfg['cuda_lib']}", "-lcudart", "-lstdc++", "-lm",
                    "-o", str(exe)], check=True)
    sanitizer = shutil.which("compute-sanitizer") or str(Path(cfg["cuda_include"]).parent / "bin" /
                                                         "compute-sanitizer")
    runs = [("plain", [str(exe), a.k])]
    for tool in [t for t in a.tools.split(",") if t]:
        runs.append((tool, [sanitizer, "--tool", tool, "--error-exitcode", "1", str(exe), a.k]))
    bad = 0
    for name, cmd in runs:
        r = subprocess.run(cmd, capture_output=True, text=True)
        out = r.stdout + r.stderr
        ok = r.returncode == 0 and "not ok" not in out
        bad += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: exit {r.returncode}", flush=True)
        if not ok:
            print("    " + "\n    ".join(out.strip().splitlines()[-40:]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
