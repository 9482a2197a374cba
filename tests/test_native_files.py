"""The native kernel's files: a damaged, foreign, empty or stale library is detected by its
build stamp before it is loaded (a warning, the JAX implementation), never a crash.

Each case runs the loader in a fresh process on a copy of the kernel in a temporary folder,
so that a library that would crash the process (SIGBUS on a truncated file) fails the test
instead of taking pytest down."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jaxmie._native import _build

INSTALLED = [v for v in _build.variants() if _build.library(v).exists()]
pytestmark = pytest.mark.skipif(not INSTALLED, reason="native kernel not built (no compiler)")

LOADER = textwrap.dedent("""
    import logging, sys
    from pathlib import Path
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from jaxmie._native import _build
    _build.HERE = Path(sys.argv[1])
    _build.SOURCE = _build.HERE / "series.cc"
    import jaxmie._native as native
    print("AVAILABLE", native.available())
""")


def _load(folder: Path) -> tuple[bool, str]:
    result = subprocess.run([sys.executable, "-c", LOADER, str(folder)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr  # a crash (e.g. -7, SIGBUS) fails here
    return "AVAILABLE True" in result.stdout, result.stderr


def _kernel_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the installed kernel (every variant, so whichever the CPU picks is there)
    and of series.cc; returns the paths of the picked variant's library and stamp."""
    shutil.copy(_build.SOURCE, tmp_path / _build.SOURCE.name)
    for variant in INSTALLED:
        shutil.copy(_build.library(variant), tmp_path)
        shutil.copy(_build.stamp(variant), tmp_path)
    import jaxmie._native as native

    name = native._variant() if native._variant() in INSTALLED else "portable"
    return tmp_path / _build.library(name).name, tmp_path / _build.stamp(name).name


def _damage_all(tmp_path: Path, damage) -> None:
    for variant in INSTALLED:
        damage(tmp_path / _build.library(variant).name, tmp_path / _build.stamp(variant).name)


def test_an_intact_copy_loads(tmp_path):
    _kernel_copy(tmp_path)
    loaded, log = _load(tmp_path)
    assert loaded, log


@pytest.mark.parametrize("case", ["truncated", "empty", "garbage", "stale source"])
def test_a_damaged_kernel_is_refused_with_advice(tmp_path, case):
    _kernel_copy(tmp_path)

    def damage(library: Path, stamp: Path) -> None:
        if case == "truncated":  # as `head -c 20000`: SIGBUS if it were mapped
            library.write_bytes(library.read_bytes()[:20000])
        elif case == "empty":
            library.write_bytes(b"")
        elif case == "garbage":  # an unreadable stamp beside a garbage library
            library.write_bytes(b"\x7fELF" + bytes(range(256)) * 64)
            stamp.write_text("{not json")
        else:
            (tmp_path / _build.SOURCE.name).write_text("// edited\n")

    _damage_all(tmp_path, damage)
    loaded, log = _load(tmp_path)
    assert not loaded
    assert "python -m jaxmie._native._build" in log, log


def test_a_foreign_library_with_a_valid_stamp_is_refused(tmp_path):
    """A loadable shared library without jaxmie's symbols (here Python's own libc math or
    any system .so) stamped as if it were the kernel: refused when its symbols are missing,
    not an AttributeError on every call."""
    _kernel_copy(tmp_path)
    foreign = next(p for p in map(Path, ["/lib/x86_64-linux-gnu/libm.so.6",
                                         "/usr/lib/x86_64-linux-gnu/libm.so.6",
                                         "/lib64/libm.so.6", "/usr/lib/libm.so.6"])
                   if p.exists())

    def damage(library: Path, stamp: Path) -> None:
        library.write_bytes(foreign.read_bytes())
        record = json.loads(stamp.read_text())
        record["library_sha256"] = _build.sha256(library)
        stamp.write_text(json.dumps(record))

    _damage_all(tmp_path, damage)
    loaded, log = _load(tmp_path)
    assert not loaded
    assert "could not be loaded" in log, log


def test_nothing_installed_is_quiet(tmp_path):
    loaded, log = _load(tmp_path)
    assert not loaded
    assert "jaxmie" not in log, log
