"""Native CPU kernels for the Mie series (XLA FFI): the bindings, and the loader.

jaxmie._layered has one algorithm, written in JAX; on the CPU, XLA runs each step of its
order recurrences as a pass over the whole batch in memory. ``series.cc`` runs the same
algorithm particle by particle with the recurrences in registers: on the PyMieDiff workload
(256 core-shell particles x 256 wavelengths, 2 cores) the forward pass takes ~20 ms instead
of ~180 ms and its gradient ~50 ms instead of ~600 ms; one particle at one wavelength
~16 us instead of ~110 us (bench/results/cpu-2core.log).

This module only binds the kernels (values and Jacobians, as plain FFI calls without
derivative rules); jaxmie._series decides when they run and defines their derivatives.

The kernel is compiled when jaxmie is installed (hatch_build.py calls _build.build; or run
``python -m jaxmie._native._build`` after editing series.cc), in a portable variant and, on
x86-64, an AVX2 (x86-64-v3) variant chosen at load when the CPU has it. Each library has a
build stamp (its SHA-256, the source's); a library whose stamp is missing or does not match
is not loaded (a warning says how to rebuild it), so a damaged file never reaches the
process. Without a compiler at install, or with ``JAXMIE_NATIVE=0``, jaxmie uses the JAX
implementation everywhere; the two agree to rounding (tests/test_native.py). GPUs and TPUs
always use the JAX implementation, as do float32 inputs and particles of more than 4 layers.

The Jacobian kernels give first derivatives along the 3L real directions (x_l, Re m_l,
Im m_l) by forward mode (dual numbers through the layer recurrence, closed forms for the
Riccati-Bessel sequences); for efficiencies the derivatives of the seven order sums are
accumulated inside the kernel, so nothing of size (batch, n_max) is stored.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import platform
import threading
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _build

__all__ = [
    "MAX_LAYERS",
    "available",
    "efficiency_sums",
    "efficiency_sums_jacobian",
    "series",
    "series_jacobian",
]

_log = logging.getLogger("jaxmie")
#: Layers the kernels take (the dual-number kernels are instantiated for L = 1..4).
MAX_LAYERS = 4
_TARGETS = ("JaxmieSeries", "JaxmieSeriesJacobian", "JaxmieEfficiencySums",
            "JaxmieEfficiencySumsJacobian")
_lock = threading.Lock()
_loaded: bool | None = None


def _cpu_features() -> frozenset[str]:
    """The CPU's instruction-set flags (Linux); empty elsewhere."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return frozenset()
    flags = next((line.split(":", 1)[1] for line in lines if line.startswith("flags")), "")
    return frozenset(flags.split())


def _variant() -> str:
    """The fastest variant this CPU runs."""
    if ("x86-64-v3" in _build.variants()
            and _cpu_features() >= _build.X86_64_V3_FEATURES):
        return "x86-64-v3"
    return "portable"


def _verified(variant: str) -> Path | None:
    """The variant's library if its build stamp vouches for it; else None, with the reason
    logged (a warning for a damaged or stale file, quietly when nothing was built)."""
    library, stamp = _build.library(variant), _build.stamp(variant)
    if not library.exists() and not stamp.exists():
        _log.info("jaxmie: no native kernel %s at %s (not built at install: no C++ "
                  "compiler?); using the JAX implementation", variant, library)
        return None
    rebuild = ("rebuild it with `python -m jaxmie._native._build` (or reinstall jaxmie); "
               "JAXMIE_NATIVE=0 silences this")
    try:
        record = json.loads(stamp.read_text())
        if record["library_sha256"] != _build.sha256(library):
            problem = "does not match its build stamp (truncated or replaced)"
        elif record["source_sha256"] != _build.sha256(_build.SOURCE):
            problem = "was built from another version of series.cc"
        else:
            return library
    except (OSError, ValueError, KeyError, TypeError) as error:
        problem = f"has no readable build stamp ({error})"
    _log.warning("jaxmie: native kernel %s %s; using the JAX implementation: %s", library,
                 problem, rebuild)
    return None


def available() -> bool:
    """Whether the native kernels are installed, verified and registered with XLA's CPU
    backend (decided once per process; JAXMIE_NATIVE=0 turns them off)."""
    global _loaded
    if _loaded is not None:
        return _loaded
    with _lock:
        if _loaded is None:
            _loaded = _load()
        return _loaded


def _load() -> bool:
    if os.environ.get("JAXMIE_NATIVE", "1") == "0" or platform.system() == "Windows":
        return False
    path = _verified(_variant())
    if path is None and _variant() != "portable":
        path = _verified("portable")
    if path is None:
        return False
    try:
        library = ctypes.CDLL(str(path))
        handlers = [getattr(library, name) for name in _TARGETS]
    except (OSError, AttributeError) as error:
        _log.warning("jaxmie: native kernel %s could not be loaded (%s); using the JAX "
                     "implementation", path, error)
        return False
    for name, handler in zip(_TARGETS, handlers):
        jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(handler), platform="cpu")
    return True


def _outputs(x: jax.Array, n_max: int, jacobian: bool):
    batch, n_layers = x.shape[:-1], x.shape[-1]
    complex_, real = jnp.complex128, jnp.float64
    shapes: list[tuple[Any, tuple[int, ...]]] = [(complex_, ()), (complex_, ()), (real, ()),
                                                 (real, ())]
    if jacobian:
        shapes += [(complex_, (2 * n_layers,)), (complex_, (2 * n_layers,)),
                   (real, (3 * n_layers,)), (real, (3 * n_layers,))]
    return [jax.ShapeDtypeStruct((*batch, n_max, *extra), dtype) for dtype, extra in shapes]


def _call(name: str, outputs, *args, **attributes):
    if not available():
        raise RuntimeError("jaxmie's native CPU kernel is not available (see the log)")
    return jax.ffi.ffi_call(name, outputs, vmap_method="broadcast_all")(*args, **attributes)


def series(x: jax.Array, m: jax.Array, n_max: int) -> list[jax.Array]:
    """[a, b, absorption_a, absorption_b], each (*batch, n_max), of layered spheres with
    size parameters x (float64, (*batch, L), L <= MAX_LAYERS) and indices m (complex128)."""
    return _call("JaxmieSeries", _outputs(x, n_max, False), x, m)


def series_jacobian(x: jax.Array, m: jax.Array, n_max: int) -> list[jax.Array]:
    """series() and its derivatives: [a, b, abs_a, abs_b, da, db, dabs_a, dabs_b] with
    da, db (*batch, n_max, 2L) along (x_l, m_l) (complex: a_n, b_n are analytic in m) and
    dabs_a, dabs_b (*batch, n_max, 3L) along (x_l, Re m_l, Im m_l)."""
    return _call("JaxmieSeriesJacobian", _outputs(x, n_max, True), x, m)


def efficiency_sums(x: jax.Array, m: jax.Array, n_max: int) -> jax.Array:
    """The seven sums over orders of series(x, m, n_max), float64 (*batch, 7), in one
    kernel, the coefficients never written out: 2(2n+1)(|a|^2+|b|^2), 2(2n+1)(absorbed
    parts), Re and Im of sum (2n+1)(-1)^n (a - b) and of sum (2n+1)(a + b), and
    sum n(n+2)/(n+1) Re(a_n a_{n+1}^* + b_n b_{n+1}^*) + (2n+1)/(n(n+1)) Re(a_n b_n^*)."""
    shape = jax.ShapeDtypeStruct((*x.shape[:-1], 7), jnp.float64)
    return _call("JaxmieEfficiencySums", shape, x, m, n_max=np.int64(n_max))


def efficiency_sums_jacobian(x: jax.Array, m: jax.Array, n_max: int
                             ) -> tuple[jax.Array, jax.Array]:
    """efficiency_sums() (*batch, 7) and its derivatives along (x_l, Re m_l, Im m_l),
    (*batch, 7, 3L), accumulated order by order."""
    shapes = (jax.ShapeDtypeStruct((*x.shape[:-1], 7), jnp.float64),
              jax.ShapeDtypeStruct((*x.shape[:-1], 7, 3 * x.shape[-1]), jnp.float64))
    sums, jac = _call("JaxmieEfficiencySumsJacobian", shapes, x, m, n_max=np.int64(n_max))
    return sums, jac
