"""The environment check of notebook 00: is this machine ready for the week?

Each check returns a ``Check`` that says in plain words what was found and, when something is wrong,
exactly what to do. Nothing here needs a GPU or the network.

    from course_lib.env import run_checks, print_report
    print_report(run_checks())
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "data"
EXPECTED_TORCH = "2.13.0"
MIN_PYTHON = (3, 11)
SETUP_FIX = (
    "In a terminal, in the course folder, run `make lab` (it installs what is missing) "
    "and reopen this notebook."
)


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, whether it passed, what was found, what to do."""

    name: str
    ok: bool
    found: str
    fix: str = ""

    def line(self) -> str:
        mark = "OK " if self.ok else "FIX"
        text = f"[{mark}] {self.name}: {self.found}"
        return text if self.ok else f"{text}\n      -> {self.fix}"


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> Check:
    found = "Python " + ".".join(map(str, version))
    ok = version[:2] >= MIN_PYTHON
    return Check(
        "Python", ok, found, f"Install Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer, then {SETUP_FIX}"
    )


def check_torch(version: str = torch.__version__, cuda: str | None = torch.version.cuda) -> Check:
    release = version.split("+")[0]
    if release != EXPECTED_TORCH:
        return Check(
            "PyTorch",
            False,
            f"torch {version}",
            f"The course is tested with torch {EXPECTED_TORCH}. {SETUP_FIX}",
        )
    if cuda is not None:
        return Check(
            "PyTorch",
            False,
            f"torch {version} (a CUDA build)",
            "Run `make clean` then `make lab`: the course installs the small CPU build.",
        )
    return Check("PyTorch", True, f"torch {version}, CPU build")


def check_torch_computes() -> Check:
    """A 2x2 matrix product with a known answer: proves torch's CPU kernels run here."""
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    ok = torch.equal(a @ a, torch.tensor([[7.0, 10.0], [15.0, 22.0]]))
    return Check(
        "CPU maths",
        ok,
        "a matrix product gives the right answer" if ok else "a matrix product gave a wrong answer",
        "Reinstall torch: run `make clean` then `make lab`.",
    )


def check_no_gpu_needed() -> Check:
    gpu = "a GPU is available but not needed" if torch.cuda.is_available() else "no GPU found, none needed"
    return Check("GPU", True, f"{gpu}: every notebook runs on the CPU")


def check_package(distribution: str, major: int) -> Check:
    """The package is installed and has the major version the course was written for."""
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return Check(distribution, False, "not installed", SETUP_FIX)
    ok = int(version.split(".")[0]) == major
    return Check(
        distribution, ok, f"version {version}", f"The course needs {distribution} {major}.x. {SETUP_FIX}"
    )


def check_data(data_dir: Path = DATA_DIR) -> Check:
    """Every file listed in ``data/MANIFEST.json`` is present and unchanged (sha256)."""
    manifest_path = data_dir / "MANIFEST.json"
    if not manifest_path.exists():
        return Check(
            "Course data",
            False,
            f"{manifest_path} is missing",
            "Get a fresh copy of the course (git clone) or run `make data`.",
        )
    files = json.loads(manifest_path.read_text())["files"]
    missing = [name for name in files if not (data_dir / name).exists()]
    changed = [
        name for name in files if name not in missing and _sha256(data_dir / name) != files[name]["sha256"]
    ]
    if missing or changed:
        found = "; ".join(filter(None, [missing and f"missing {missing}", changed and f"changed {changed}"]))
        return Check(
            "Course data",
            False,
            found,
            "Run `git checkout -- data/` to restore the files, or `make data` to rebuild them.",
        )
    return Check("Course data", True, f"{len(files)} files present and unchanged")


def check_checkpoints(checkpoint_dir: Path = DATA_DIR / "checkpoints") -> Check:
    """Every pretrained checkpoint the notebooks load is present and passes its own checksum."""
    try:  # imported here so that a broken install is reported as a failed check, not an import error
        from course_lib.checkpoints import RETRAIN_HINT, CheckpointError, load_checkpoint
    except ImportError as error:
        return Check("Checkpoints", False, f"cannot load checkpoints: {error}", SETUP_FIX)
    directories = sorted(path for path in checkpoint_dir.glob("*") if path.is_dir())
    if not directories:
        return Check("Checkpoints", False, f"no checkpoints in {checkpoint_dir}", RETRAIN_HINT)
    broken = []
    for directory in directories:
        try:
            load_checkpoint(directory)
        except CheckpointError as error:
            broken.append(f"{directory.name} ({str(error).split('. ')[0]})")
    if broken:
        return Check("Checkpoints", False, "; ".join(broken), RETRAIN_HINT)
    return Check("Checkpoints", True, f"{len(directories)} pretrained model(s) load and pass their checksum")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


CHECKS: tuple[Callable[[], Check], ...] = (
    check_python,
    check_torch,
    check_torch_computes,
    check_no_gpu_needed,
    lambda: check_package("ipywidgets", 8),
    lambda: check_package("matplotlib", 3),
    check_data,
    check_checkpoints,
)


def run_checks() -> list[Check]:
    """Run every check; never raises, so a student always sees the whole report."""
    return [check() for check in CHECKS]


def print_report(checks: list[Check]) -> None:
    """Print one line per check, then a one-line verdict."""
    for check in checks:
        print(check.line())
    failed = [c.name for c in checks if not c.ok]
    print(
        "\nAll set: your environment is ready for the week."
        if not failed
        else f"\nPlease fix: {', '.join(failed)}."
    )
