"""The build graph, on a scratch copy of the source tree and a tiny manifest:
a second ninja does nothing; editing one template rebuilds only the instances
it renders; editing the manifest re-runs configure by itself; ninja install
and the documented one-line compile of an example against the prefix work."""

import re
import shutil
import subprocess
from pathlib import Path

TINY = """[model]
name = "tiny"
hidden = 256
moe_intermediate = 128
experts = 8
top_k = 2

[routing]
kind = "softmax"

[quant]
recipe = "fp8_1x128"

[build]
archs = ["sm_90a"]
ops = ["quant"]
"""


def _tree(ctx):
    """A scratch copy of what configure needs, so edits never touch the checkout."""
    root = ctx.mkdtemp("tree")
    for d in ("gen", "include"):
        shutil.copytree(ctx.srcdir / d, root / d, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "instances" / "tuned").mkdir(parents=True)
    for f in ("configure", "build.ninja.in"):
        shutil.copy2(ctx.srcdir / f, root / f)
    (root / "instances" / "tiny.toml").write_text(TINY)
    return root


def _ninja(ctx, build, *args):
    r = subprocess.run(["ninja", "-C", str(build), "-j2", *args], capture_output=True, text=True)
    assert r.returncode == 0, f"ninja failed:\n{r.stdout[-3000:]}{r.stderr[-2000:]}"
    return r.stdout


def _compiled(out):
    return sorted(set(re.findall(r"NVCC (\S+)", out)))


def test_incremental_build_and_install(ctx):
    root = _tree(ctx)
    build = root / "build"
    ctx.run(["python3", root / "configure", "--manifest", root / "instances/tiny.toml", "--builddir", build],
            cwd=root)
    first = _ninja(ctx, build)
    assert (build / "lib/libmoekit_tiny.a").exists() and (build / "lib/libmoekit_tiny.so").exists(), first
    assert _compiled(first), "nothing compiled on the first build"

    # a second ninja does nothing
    again = _ninja(ctx, build)
    assert "no work to do" in again, f"second build did work:\n{again}"

    # editing the quant template rebuilds the quant instances and nothing else
    tpl = root / "gen/templates/quant.cu.j2"
    tpl.write_text(tpl.read_text() + "/* edited */\n")
    edited = _ninja(ctx, build)
    rebuilt = _compiled(edited)
    assert rebuilt and all(n.startswith("quant_") for n in rebuilt), f"unexpected rebuilds: {rebuilt}"
    assert "CC gen/registry.c" not in edited, "registry rebuilt although its text did not change"

    # editing the registry template rebuilds the registry and no instance
    tpl = root / "gen/templates/registry.c.j2"
    tpl.write_text(tpl.read_text() + "/* edited */\n")
    edited = _ninja(ctx, build)
    assert not _compiled(edited), f"instances rebuilt for a registry edit: {_compiled(edited)}"
    assert "CC gen/registry.c" in edited, edited

    # editing the manifest re-runs configure by itself and builds the new instance set
    man = root / "instances/tiny.toml"
    man.write_text(TINY.replace('recipe = "fp8_1x128"', 'recipe = "fp8_1x128"\nactivations = ["fp8_1x128", "mxfp4"]'))
    edited = _ninja(ctx, build)
    assert "CONFIGURE" in edited, f"configure did not re-run:\n{edited}"
    assert any(n.startswith("quant_mxfp4_") for n in _compiled(edited)), _compiled(edited)
    assert "no work to do" in _ninja(ctx, build)

    # ninja install, then the documented one-line compile of an example against the prefix
    prefix = root / "prefix"
    ctx.run(["python3", root / "configure", "--manifest", root / "instances/tiny.toml", "--builddir", build,
             "--prefix", prefix], cwd=root)
    _ninja(ctx, build, "install")
    for f in ("lib/libmoekit_tiny.a", "lib/libmoekit_tiny.so", "include/moekit/moekit.h",
              "include/moekit/instances.h", "include/moekit/core/formats.h"):
        assert (prefix / f).exists(), f"install did not copy {f}"
    exe = prefix / "quantize"
    line = _example_line(ctx, prefix, "tiny", exe)
    r = subprocess.run(line, shell=True, cwd=ctx.srcdir, capture_output=True, text=True)
    assert r.returncode == 0, f"{line}\n{r.stderr}"
    r = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "usage" in r.stdout.lower() and "tiny" in r.stdout, r.stdout + r.stderr


def _example_line(ctx, prefix, model, out):
    """docs/getting-started.md's one-line compile of examples/quantize, filled in."""
    doc = (ctx.srcdir / "docs/getting-started.md").read_text()
    m = re.search(r"^\s*(cc .*examples/quantize/main\.c.*)$", doc, re.M)
    assert m, "docs/getting-started.md lacks the one-line compile command of examples/quantize"
    line = m.group(1).replace("$PREFIX", str(prefix)).replace("$CUDA", str(Path(ctx.config["cuda_lib"]).parent))
    return line.replace("$MODEL", model).replace("-o quantize", f"-o {out}")
