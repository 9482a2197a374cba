"""Builds the native CPU kernel (series.cc) next to this file: at install (the build hook
in hatch_build.py calls `build`) or explicitly with ``python -m jaxmie._native._build``.

This module imports neither jax nor jaxmie (the install-time hook runs it from the source
tree, where only jaxlib's headers are present). It writes, for each variant:

- ``_kernel-<variant>.so``: the library, and
- ``_kernel-<variant>.json``: its build stamp (SHA-256 of the library, of the source, and the
  jaxlib whose XLA FFI headers it was built against), written after the library, both by
  atomic renames: the loader checks the stamp before it opens the library, so a truncated,
  foreign or damaged file is never loaded.

Variants: ``portable`` (the architecture's baseline, runs on any CPU of it) and, on x86-64,
``x86-64-v3`` (AVX2, chosen at load when the CPU has it: the Jacobian kernels run ~20 %
faster). Flags shared by both keep the results independent of the variant:
-ffp-contract=off rounds a * b + c as written, with or without FMA; -fno-trapping-math and
-fopenmp-simd let the lane loops vectorise (their ``omp simd`` pragmas; no OpenMP runtime).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "series.cc"
FLAGS = ("-O3", "-std=c++17", "-shared", "-fPIC", "-ffp-contract=off", "-fno-trapping-math",
         "-fopenmp-simd")
#: CPU features the x86-64-v3 variant needs (Linux /proc/cpuinfo names).
X86_64_V3_FEATURES = frozenset({"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "movbe",
                                "xsave"})


def variants() -> dict[str, tuple[str, ...]]:
    """Variant name -> extra compiler flags, for this machine's architecture."""
    if platform.machine().lower() in ("x86_64", "amd64"):
        return {"portable": ("-march=x86-64", "-mtune=generic"),
                "x86-64-v3": ("-march=x86-64-v3", "-mtune=generic")}
    return {"portable": ()}


def library(variant: str) -> Path:
    return HERE / f"_kernel-{variant}.so"


def stamp(variant: str) -> Path:
    return HERE / f"_kernel-{variant}.json"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ffi_include_dir() -> str:
    """jaxlib's XLA FFI headers, found without importing jax."""
    import jaxlib

    return str(Path(jaxlib.__file__).resolve().parent / "include")


def _write_atomically(target: Path, write) -> None:
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(handle)
    try:
        write(Path(partial))
        os.chmod(partial, 0o644)
        os.replace(partial, target)
    finally:
        Path(partial).unlink(missing_ok=True)


def build(compiler: str | None = None) -> list[str]:
    """Compiles every variant; returns the names of those built. A variant the compiler
    rejects is skipped with a message on stderr; no compiler at all builds none (jaxmie
    then runs its JAX implementation everywhere)."""
    compiler = compiler or os.environ.get("CXX", "c++")
    if shutil.which(compiler) is None:
        print(f"jaxmie: no C++ compiler ({compiler!r}); the native CPU kernel is not built "
              "and jaxmie uses its JAX implementation", file=sys.stderr)
        return []
    import jaxlib

    include = ffi_include_dir()
    built = []
    for variant, extra in variants().items():
        for path in (library(variant), stamp(variant)):
            path.unlink(missing_ok=True)

        def compile_into(path: Path, extra=extra) -> None:
            subprocess.run([compiler, *FLAGS, *extra, "-I", include, str(SOURCE), "-o",
                            str(path)], check=True, capture_output=True, text=True,
                           timeout=900)

        try:
            _write_atomically(library(variant), compile_into)
        except (OSError, subprocess.SubprocessError) as error:
            detail = getattr(error, "stderr", None) or str(error)
            print(f"jaxmie: native kernel variant {variant} not built: {detail[-2000:]}",
                  file=sys.stderr)
            continue
        record = {"library_sha256": sha256(library(variant)),
                  "source_sha256": sha256(SOURCE), "jaxlib": jaxlib.__version__,
                  "flags": [*FLAGS, *extra]}
        text = json.dumps(record, indent=1)
        _write_atomically(stamp(variant), lambda path, text=text: path.write_text(text))
        built.append(variant)
    return built


if __name__ == "__main__":
    names = build()
    print("built:", ", ".join(names) or "nothing")
    sys.exit(0 if names else 1)
