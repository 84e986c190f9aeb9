"""moekit's generator: manifest -> instances -> one file per instance.

    plan(manifest, archs)   every instance the manifest needs, constraints checked
    render(plan, out, inc)  writes the instance files, registry.c, api.c,
                            moekit/instances.h and kernels.txt, each only when
                            its content changed (unchanged files keep their mtime)

configure calls plan() (stdlib only) to write build.ninja; the ninja render
edge calls `python3 -m gen render`, the one step that needs Jinja2.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from . import ops
from .manifest import ARCHS, Manifest, ManifestError, load, validate  # noqa: F401

ROOT = Path(__file__).resolve().parent
TEMPLATES = ROOT / "templates"


@dataclasses.dataclass
class Plan:
    manifest: Manifest
    archs: list
    instances: list

    @property
    def linked(self):
        """Instances that go into the library (NVIDIA ones: no HIP runtime here)."""
        return [i for i in self.instances if i.nvidia]

    def outputs(self):
        """Files render() writes, relative to (gen_dir, include_dir)."""
        gen = [i.filename for i in self.instances] + ["registry.c", "api.c", "kernels.txt"]
        return gen, ["moekit/instances.h"]


def plan(manifest: Manifest, archs=None) -> Plan:
    archs = list(archs or manifest.build["archs"])
    for a in archs:
        if a not in ARCHS:
            raise ManifestError(manifest.path, "build.archs", f"{a!r} is not allowed; allowed: {', '.join(ARCHS)}")
    instances, seen = [], {}
    for family in ops.FAMILIES:
        if family.__name__.rsplit(".", 1)[-1] not in manifest.build["ops"]:
            continue
        for inst in family.instances(manifest, archs):
            problem = family.check(inst)
            if problem:
                raise ManifestError(manifest.path, "", f"instance {inst.name}: {problem}")
            if inst.name in seen:
                raise ManifestError(manifest.path, "", f"two instances are named {inst.name}")
            seen[inst.name] = inst
            instances.append(inst)
    return Plan(manifest, archs, instances)


def write_if_changed(path: Path, text: str) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


def render(p: Plan, gen_dir, include_dir) -> list:
    """Writes every generated file; returns the paths whose content changed."""
    import jinja2  # the one non-stdlib dependency, needed only here

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    gen_dir, include_dir = Path(gen_dir), Path(include_dir)
    common = {"manifest_path": _rel(p.manifest.path), "model": p.manifest.name, "m": p.manifest,
              "linked": p.linked, "instances": p.instances}
    changed = []
    files = {}
    for inst in p.instances:
        files[gen_dir / inst.filename] = env.get_template(inst.template).render(inst=inst, **common)
    files[gen_dir / "registry.c"] = env.get_template("registry.c.j2").render(**common)
    files[gen_dir / "api.c"] = env.get_template("api.c.j2").render(**common)
    files[gen_dir / "kernels.txt"] = "".join(f"{i.name} {i.arch} {i.filename}\n" for i in p.instances)
    files[include_dir / "moekit" / "instances.h"] = env.get_template("instances.h.j2").render(**common)
    for path, text in files.items():
        if write_if_changed(path, text):
            changed.append(path)
    # Instance files of an earlier plan are stale: remove them.
    keep = {path.name for path in files}
    for f in gen_dir.glob("*"):
        if f.suffix in (".cu", ".hip") and f.name not in keep:
            f.unlink()
    return changed


def _rel(path):
    try:
        return str(Path(path).resolve().relative_to(ROOT.parent))
    except ValueError:
        return str(path)
