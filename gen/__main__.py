"""python3 -m gen {check,list,render} --manifest FILE [--archs a,b] [--out DIR --include DIR]"""

import argparse
import json
import sys

from . import ManifestError, load, plan, render


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m gen", description=__doc__)
    ap.add_argument("command", choices=("check", "list", "render"))
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--archs", default="", help="comma list; default: the manifest's build.archs")
    ap.add_argument("--out", help="directory for instance files (render)")
    ap.add_argument("--include", help="directory for generated headers (render)")
    a = ap.parse_args(argv)
    try:
        p = plan(load(a.manifest), [x for x in a.archs.split(",") if x] or None)
    except ManifestError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.command == "list":
        json.dump([{"name": i.name, "file": i.filename, "arch": i.arch, "family": i.family} for i in p.instances],
                  sys.stdout, indent=1)
        print()
    elif a.command == "render":
        if not a.out or not a.include:
            ap.error("render needs --out and --include")
        render(p, a.out, a.include)
    return 0


if __name__ == "__main__":
    sys.exit(main())
