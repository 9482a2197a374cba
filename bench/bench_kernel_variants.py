"""The native kernel's build variants against each other: the portable build installed for
every CPU of the architecture, the x86-64-v3 (AVX2) build loaded when the CPU has it, and a
-march=native build of this machine (what jaxmie used to compile on first use).

Each variant runs in its own process (the loader reads the library from a temporary folder);
the workload is PyMieDiff's (256 core-shell particles x 256 wavelengths), forward and
gradient, medians after warm-up, compile time excluded.

    python bench/bench_kernel_variants.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from jaxmie._native import _build

RUN = textwrap.dedent("""
    import json, statistics, sys, time
    from pathlib import Path
    from jaxmie._native import _build
    _build.HERE = Path(sys.argv[1]); _build.SOURCE = _build.HERE / "series.cc"
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jaxmie as jm
    from jaxmie import _native
    assert _native.available()
    r = jnp.linspace(30.0, 80.0, 256)[:, None]
    wl = jnp.linspace(400.0, 900.0, 256)[None, :]
    def q(r_shell):
        p = jm.CoreShell(r_core=0.6 * r_shell, r_shell=r_shell, n_core=1.45 + 0.0j,
                         n_shell=0.2 + 3.0j)
        return jm.efficiencies(p, wl, n_max=24).q_sca
    forward = jax.jit(q)
    gradient = jax.jit(jax.grad(lambda r: jnp.sum(q(r))))
    def median(f, repeats=15):
        f(r).block_until_ready()
        times = []
        for _ in range(repeats):
            start = time.perf_counter(); f(r).block_until_ready()
            times.append(time.perf_counter() - start)
        return statistics.median(times)
    print(json.dumps({"forward_s": median(forward), "gradient_s": median(gradient)}))
""")


def _folder(tmp: Path, name: str, library: Path) -> Path:
    """A kernel folder whose library (under the name the loader picks) is `library`."""
    folder = tmp / name
    folder.mkdir()
    shutil.copy(_build.SOURCE, folder / "series.cc")
    for variant in _build.variants():
        target = folder / _build.library(variant).name
        shutil.copy(library, target)
        (folder / _build.stamp(variant).name).write_text(json.dumps(
            {"library_sha256": _build.sha256(target),
             "source_sha256": _build.sha256(_build.SOURCE)}))
    return folder


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        libraries = {v: _build.library(v) for v in _build.variants()
                     if _build.library(v).exists()}
        native = tmp / "native.so"
        subprocess.run([os.environ.get("CXX", "c++"), *_build.FLAGS, "-march=native", "-I",
                        _build.ffi_include_dir(), str(_build.SOURCE), "-o", str(native)],
                       check=True, capture_output=True)
        libraries["native (-march=native)"] = native
        print("256 core-shell particles x 256 wavelengths, float64, medians:")
        print(f"{'variant':24s} {'forward':>10} {'gradient':>10}")
        for name, library in libraries.items():
            folder = _folder(tmp, name.split()[0], library)
            out = subprocess.run([sys.executable, "-c", RUN, str(folder)], check=True,
                                 capture_output=True, text=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            print(f"{name:24s} {row['forward_s'] * 1e3:8.1f} ms {row['gradient_s'] * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
