"""2.1–2.2 环境检查：prints [OK] / [FAIL] for every requirement of this repository (exit code 1 on any FAIL).

Checks Python, PyTorch (and whether CUDA / Apple MPS are visible — information, not a requirement), every package
of the ``.[all]`` extras, the bitsandbytes backend, the built-in demo model, and free disk space for real weights.

    python ch02_env/check_env.py
"""
from __future__ import annotations

import importlib
import importlib.metadata as md
import importlib.util
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script (`python ch02_env/x.py`): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import arg, run

DISTRIBUTION = "chatglm3-book-companion"   # the name in pyproject.toml; `pip install -e ".[all]"` installs it


@dataclass
class Config:
    min_disk_gb: float = arg(30.0, "warn (info) when less free disk than this is left for model weights")


def declared_requirements() -> list[tuple[str, str, str]]:
    """``(distribution, version specifier, extra)`` for every requirement of this repository, read from the
    installed distribution's metadata (core + every extra), plus any that ``pyproject.toml`` declares and the
    installed metadata does not know yet (an install older than the checkout). Nothing is listed by hand."""
    from packaging.requirements import Requirement

    lines: list[str] = []
    try:
        lines += md.requires(DISTRIBUTION) or []
    except md.PackageNotFoundError:
        pass
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if pyproject.is_file():
        import tomllib
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        lines += project.get("dependencies", [])
        for extra, reqs in project.get("optional-dependencies", {}).items():
            lines += [f'{r}; extra == "{extra}"' for r in reqs]
    found: dict[str, tuple[str, str, str]] = {}
    for line in lines:
        req = Requirement(line)
        if req.name.replace("_", "-").lower() == DISTRIBUTION:   # `all` = the other extras
            continue
        extra = ""
        if req.marker is not None:
            extra = next((e for e in ("quant", "web", "finetune", "apps", "test", "all")
                          if req.marker.evaluate({"extra": e})), "")
        key = req.name.lower().replace("_", "-")
        found.setdefault(key, (req.name, str(req.specifier), extra or "core"))
    return list(found.values())


def _import_names() -> dict[str, list[str]]:
    """distribution name (lower case) -> its top-level import names, e.g. ``pillow -> [PIL]``."""
    names: dict[str, list[str]] = {}
    for module, dists in md.packages_distributions().items():
        for dist in dists:
            names.setdefault(dist.lower().replace("_", "-"), []).append(module)
    return names


def check_package(dist: str, specifier: str, import_it: bool = False,
                  modules: list[str] | None = None) -> tuple[bool, str]:
    """Installed, new enough, and importable (``import_it``: really imported; otherwise only found)."""
    from packaging.specifiers import SpecifierSet

    try:
        version = md.version(dist)
    except md.PackageNotFoundError:
        return False, f"not installed — To fix: pip install -e \".[all]\" (or pip install '{dist}{specifier}')"
    if specifier and not SpecifierSet(specifier).contains(version, prereleases=True):
        return False, f"{version} does not satisfy {specifier} — To fix: pip install -U '{dist}{specifier}'"
    for module in [m for m in modules or [] if not m.startswith("_")][:1]:
        try:
            if import_it:
                importlib.import_module(module)
            elif importlib.util.find_spec(module) is None:
                return False, f"{version} installed but `{module}` is not importable — To fix: pip install " \
                              f"--force-reinstall '{dist}{specifier}'"
        except Exception as exc:  # 安装了但导入失败（例如 torchvision 与 torch 版本不匹配）
            return False, f"{version} installed but import fails: {exc.__class__.__name__}: {str(exc)[:120]}"
    return True, version


def main(cfg: Config | None = None) -> dict:
    """Run every check; returns ``{"results": [(name, ok, detail)], "failed": n}``."""
    min_disk_gb = (cfg or Config()).min_disk_gb
    results: list[tuple[str, bool | None, str]] = []
    results.append(("python >= 3.10", sys.version_info >= (3, 10), sys.version.split()[0]))
    requirements = declared_requirements()
    if not requirements:
        results.append((f"{DISTRIBUTION} requirements", False,
                        "the repository is not installed — To fix: pip install -e \".[all]\""))
    modules = _import_names()
    for dist, specifier, extra in requirements:
        ok, detail = check_package(dist, specifier, import_it=extra == "core",
                                   modules=modules.get(dist.lower().replace("_", "-")))
        results.append((f"{dist}{specifier} ({'core' if extra == 'core' else 'extra ' + extra})", ok, detail))

    try:
        import torch
        results.append(("CUDA GPU (info)", None, torch.cuda.get_device_name(0) if torch.cuda.is_available()
                        else "none — CPU (and int8/int4 CPU kernels) will be used"))
        mps = getattr(torch.backends, "mps", None)
        results.append(("Apple MPS (info)", None, "available" if mps and mps.is_available() else "not available"))
        results.append(("torch CPU int8/int4 kernels", hasattr(torch.ops.aten, "_weight_int4pack_mm_for_cpu")
                        and hasattr(torch.ops.aten, "_weight_int8pack_mm"), torch.__version__))
    except Exception as exc:
        results.append(("torch devices", False, str(exc)))

    try:
        import bitsandbytes as bnb  # noqa: F401
        import torch
        backend = "cuda" if torch.cuda.is_available() else "cpu"
        results.append(("bitsandbytes backend", True, f"{bnb.__version__} on {backend}"))
    except Exception as exc:
        results.append(("bitsandbytes backend", False, f"{exc.__class__.__name__}: {str(exc)[:120]}"))

    from common.paths import DEMO_MODEL_DIR, REPO_ROOT
    demo_ok = (DEMO_MODEL_DIR / "config.json").is_file()
    results.append(("built-in demo model", demo_ok, DEMO_MODEL_DIR.name if demo_ok
                    else "missing — To fix: python data/demo_model/build.py"))
    free_gb = shutil.disk_usage(REPO_ROOT).free / 1024**3
    results.append((f"free disk for real weights (>= {min_disk_gb:g} GB, info)", None, f"{free_gb:.1f} GB free"
                    + ("" if free_gb >= min_disk_gb else " — ChatGLM3-6B needs ~12 GB per copy")))

    failed = 0
    for name, ok, detail in results:
        tag = "[INFO]" if ok is None else "[OK]  " if ok else "[FAIL]"
        failed += ok is False
        print(f"{tag} {name}: {detail}")
    print(f"{'all requirements met' if not failed else f'{failed} requirement(s) failed'}")
    return {"results": results, "failed": failed}


if __name__ == "__main__":
    sys.exit(1 if run(main, Config, __doc__)["failed"] else 0)
