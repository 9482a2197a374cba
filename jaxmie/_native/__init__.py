"""Native CPU kernels for the Mie series (XLA FFI), built from source on first use.

jaxmie.coefficients has one algorithm, written in JAX; on the CPU, XLA runs each step of its
order recurrences as a pass over the whole batch in memory. ``series.cc`` runs the same
algorithm particle by particle with the recurrences in registers: on the PyMieDiff workload
(256 core-shell particles x 256 wavelengths, 2 cores) the forward pass takes ~20 ms instead
of ~180 ms and its gradient ~50 ms instead of ~600 ms; one particle at one wavelength
~16 us instead of ~110 us (bench/results/cpu-2core.log).

The kernels are compiled once per machine, jaxlib version and source, with the C++ compiler
found as ``$CXX`` or ``c++`` (C++17; about 15 s), into ``$JAXMIE_CACHE_DIR`` (default
``~/.cache/jaxmie``). Without a compiler, or with ``JAXMIE_NATIVE=0``, jaxmie uses the JAX
implementation everywhere; the two agree to rounding (tests/test_native.py). GPUs and TPUs
always use the JAX implementation, as do float32 inputs and particles of more than 4 layers.

Derivatives: first derivatives come from the kernels' own forward-mode Jacobians (dual
numbers through the layer recurrence, closed forms for the Riccati-Bessel sequences),
contracted with the tangents in JAX, so jvp, grad, vmap and jit all work. For
efficiencies the derivatives of the seven order sums are accumulated inside the kernel, so
nothing of size (batch, n_max) is stored. Derivatives of the Jacobians themselves (Hessians
and higher) come from the JAX implementation.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np

__all__ = [
    "available",
    "cache_dir",
    "efficiency_sums",
    "order_sums",
    "series",
    "supports",
    "supports_order_sums",
]

_log = logging.getLogger("jaxmie")
_SOURCE = Path(__file__).with_name("series.cc")
# -ffp-contract=off: a * b + c rounded as written, whether or not the CPU has FMA, so that
# results do not depend on the machine; -fno-trapping-math lets the lane loops vectorise, and
# -fopenmp-simd makes them (their `omp simd` pragma; no OpenMP runtime is involved): GCC's
# cost model otherwise leaves some as scalar code, ~10 % of the forward time.
_FLAGS = ("-O3", "-std=c++17", "-shared", "-fPIC", "-ffp-contract=off", "-fno-trapping-math",
          "-fopenmp-simd")
# Code for the CPU it is built on (the Jacobian kernels run ~20 % faster with AVX2/AVX-512).
# The cache key names the CPU, so machines that share a home directory each build their
# own; a compiler that rejects the flag gets a second, portable build.
_TUNING = ("-march=native",)
_MAX_JACOBIAN_LAYERS = 4  # the dual-number kernel is instantiated for L = 1..4
_lock = threading.Lock()
_loaded: bool | None = None


def cache_dir() -> Path:
    """Where built kernels are kept: $JAXMIE_CACHE_DIR, else $XDG_CACHE_HOME/jaxmie, else
    ~/.cache/jaxmie."""
    if os.environ.get("JAXMIE_CACHE_DIR"):
        return Path(os.environ["JAXMIE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jaxmie"


def _compiler() -> str:
    return os.environ.get("CXX", "c++")


def _cpu_identity() -> bytes:
    """The CPU model and instruction-set flags (Linux), else what platform reports."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return f"{platform.processor()} {platform.machine()}".encode()
    fields = ("model name", "flags", "Features", "CPU implementer", "CPU part")
    return "\n".join(sorted({line for line in lines if line.split(":")[0].strip() in fields}
                            )).encode()


def _library_path() -> Path:
    key = hashlib.sha256()
    for part in (_SOURCE.read_bytes(), jaxlib.__version__.encode(),
                 " ".join(_FLAGS + _TUNING).encode(), platform.machine().encode(),
                 platform.system().encode(), _compiler().encode(), _cpu_identity()):
        key.update(part)
    return cache_dir() / f"series-{key.hexdigest()[:20]}.so"


def _build(target: Path) -> None:
    """Compiles series.cc into target (atomically: concurrent builders cannot clash)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    command = [_compiler(), *_FLAGS, "-I", jax.ffi.include_dir(), str(_SOURCE), "-o",
               str(partial)]
    try:
        try:
            subprocess.run(command[:1] + list(_TUNING) + command[1:], check=True,
                           capture_output=True, text=True, timeout=600)
        except subprocess.CalledProcessError:
            subprocess.run(command, check=True, capture_output=True, text=True, timeout=600)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def available() -> bool:
    """Whether the native kernels are built and registered with XLA's CPU backend.

    The first call builds them if needed; a failure (no compiler, read-only cache) is
    logged once as a warning and the JAX implementation is used from then on.
    """
    global _loaded
    if _loaded is not None:
        return _loaded
    with _lock:
        if _loaded is not None:
            return _loaded
        _loaded = False
        if os.environ.get("JAXMIE_NATIVE", "1") == "0" or platform.system() == "Windows":
            return False
        target = _library_path()
        try:
            if not target.exists():
                _build(target)
            library = ctypes.CDLL(str(target))
            for name in ("JaxmieSeries", "JaxmieSeriesJacobian", "JaxmieOrderSums",
                         "JaxmieEfficiencySums", "JaxmieEfficiencySumsJacobian"):
                jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(getattr(library, name)),
                                            platform="cpu")
        except (OSError, subprocess.SubprocessError) as error:
            detail = getattr(error, "stderr", None) or str(error)
            _log.warning("jaxmie: native CPU kernel unavailable, using the JAX implementation "
                         "(set JAXMIE_NATIVE=0 to skip this attempt): %s", detail[-2000:])
            return False
        _loaded = True
        return True


def supports(x: jax.Array, m: jax.Array) -> bool:
    """Whether series() and efficiency_sums() take these size parameters x (..., L) and
    indices m (..., L) on this backend: float64 / complex128, L <= 4, CPU."""
    return (jax.default_backend() == "cpu" and x.dtype == jnp.float64
            and m.dtype == jnp.complex128 and x.shape[-1] <= _MAX_JACOBIAN_LAYERS
            and available())


def supports_order_sums(a: jax.Array) -> bool:
    """Whether order_sums() takes coefficients a of this dtype on this backend."""
    return jax.default_backend() == "cpu" and a.dtype == jnp.complex128 and available()


def _outputs(x: jax.Array, n_max: int, jacobian: bool):
    batch, n_layers = x.shape[:-1], x.shape[-1]
    complex_, real = jnp.complex128, jnp.float64
    shapes = [(complex_, ()), (complex_, ()), (real, ()), (real, ())]
    if jacobian:
        shapes += [(complex_, (2 * n_layers,)), (complex_, (2 * n_layers,)),
                   (real, (3 * n_layers,)), (real, (3 * n_layers,))]
    return [jax.ShapeDtypeStruct((*batch, n_max, *extra), dtype) for dtype, extra in shapes]


def _call(name: str, outputs, *args, **attributes):
    if not available():
        raise RuntimeError("jaxmie's native CPU kernel is not available (see the log)")
    return jax.ffi.ffi_call(name, outputs, vmap_method="broadcast_all")(*args, **attributes)


def _ffi(name: str, x, m, n_max: int, jacobian: bool):
    return _call(name, _outputs(x, n_max, jacobian), x, m)


def _contract(jacobian, direction):
    """jacobian (..., k, d) times direction (..., d) -> (..., k), as a batched dot: XLA's CPU
    backend runs it and its transpose (the gradient's) ~5x faster than multiply-and-sum."""
    return jnp.einsum("...kd,...d->...k", jacobian, direction)


def _real_directions(dx, dm):
    """Tangents of x (..., L) and m (..., L) as the kernels' 3L real directions."""
    return jnp.concatenate([dx, jnp.real(dm), jnp.imag(dm)], axis=-1)


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def _jacobian(x, m, n_max, reference):
    outputs = _ffi("JaxmieSeriesJacobian", x, m, n_max, jacobian=True)
    return tuple(outputs[:4]), tuple(outputs[4:])


def _jacobian_by_real_parts(f, x, m):
    """Per-item derivatives of f(x, m) (a pytree of arrays (..., *out)) along x_l, Re m_l
    and Im m_l: for each leaf an array (..., *out, 3L), by forward mode in JAX."""

    def by_real_parts(x, m_re, m_im):
        return f(x, jax.lax.complex(m_re, m_im))

    flat = lambda v: v.reshape(-1, v.shape[-1])  # noqa: E731
    jac = jax.vmap(jax.jacfwd(by_real_parts, argnums=(0, 1, 2)))(
        flat(x), flat(jnp.real(m)), flat(jnp.imag(m)))
    return jax.tree.map(lambda *d: jnp.concatenate(d, axis=-1).reshape(
        *x.shape[:-1], *d[0].shape[1:-1], -1), *jac)


def _reference_jacobian(x, m, n_max, reference):
    """(outputs, derivatives) of reference, laid out as the native Jacobian kernel's."""
    outputs = reference(x, m, n_max)
    jac = _jacobian_by_real_parts(lambda x, m: reference(x, m, n_max), x, m)
    n_layers = x.shape[-1]
    # a_n, b_n are analytic in m: their d/dRe m is the complex derivative; Im m is dropped.
    derivatives = tuple(d[..., :2 * n_layers] for d in jac[:2]) + tuple(jac[2:])
    return tuple(outputs), derivatives


@_jacobian.defjvp
def _jacobian_jvp(n_max, reference, primals, tangents):
    return jax.jvp(lambda x, m: _reference_jacobian(x, m, n_max, reference), primals, tangents)


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def _series(x, m, n_max, reference):
    return tuple(_ffi("JaxmieSeries", x, m, n_max, jacobian=False))


@_series.defjvp
def _series_jvp(n_max, reference, primals, tangents):
    (x, m), (dx, dm) = primals, tangents
    outputs, (da, db, dabs_a, dabs_b) = _jacobian(x, m, n_max, reference)
    analytic = jnp.concatenate([dx.astype(m.dtype), dm], axis=-1)
    real = _real_directions(dx, dm)
    tangent = tuple(_contract(d, t) for d, t in ((da, analytic), (db, analytic),
                                                 (dabs_a, real), (dabs_b, real)))
    return outputs, tangent


def series(x: jax.Array, m: jax.Array, n_max: int,
           reference: Callable[[jax.Array, jax.Array, int], tuple]) -> tuple:
    """Mie coefficients of a batch of layered spheres by the native kernel.

    Args:
        x: size parameters, float64, shape (*batch, L), L <= 4 (see supports()).
        m: relative indices, complex128, shape (*batch, L).
        n_max: number of orders (static).
        reference: the JAX implementation with the same signature and outputs, used for
            derivatives of the Jacobian (second order and higher).

    Returns:
        (a, b, absorption_a, absorption_b), shapes (*batch, n_max); see
        jaxmie.coefficients.MieSeries.
    """
    return _series(x, m, n_max, reference)


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def _order_sums(a, b, absorption_a, absorption_b, reference):
    shape = jax.ShapeDtypeStruct((*a.shape[:-1], 7), jnp.float64)
    return _call("JaxmieOrderSums", shape, a, b, absorption_a, absorption_b)


@_order_sums.defjvp
def _order_sums_jvp(reference, primals, tangents):
    return jax.jvp(reference, primals, tangents)


def order_sums(a, b, absorption_a, absorption_b, reference: Callable[..., jax.Array]):
    """The seven sums over orders behind the efficiencies, in one pass over the coefficients.

    Args:
        a, b: complex128, shape (*batch, N); absorption_a, absorption_b: float64, same shape.
        reference: the JAX implementation (jaxmie.observables._reference_order_sums), also
            used for every derivative.

    Returns:
        float64 array of shape (*batch, 7), laid out as reference's.
    """
    return _order_sums(a, b, absorption_a, absorption_b, reference)


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3, 4))
def _efficiency_sums(x, m, n_max, series_reference, sums_reference):
    shape = jax.ShapeDtypeStruct((*x.shape[:-1], 7), jnp.float64)
    return _call("JaxmieEfficiencySums", shape, x, m, n_max=np.int64(n_max))


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3, 4))
def _efficiency_sums_jacobian(x, m, n_max, series_reference, sums_reference):
    n_layers = x.shape[-1]
    shapes = (jax.ShapeDtypeStruct((*x.shape[:-1], 7), jnp.float64),
              jax.ShapeDtypeStruct((*x.shape[:-1], 7, 3 * n_layers), jnp.float64))
    return tuple(_call("JaxmieEfficiencySumsJacobian", shapes, x, m, n_max=np.int64(n_max)))


def _composed_reference(n_max, series_reference, sums_reference):
    def sums(x, m):
        return sums_reference(*series_reference(x, m, n_max))

    return sums


@_efficiency_sums_jacobian.defjvp
def _efficiency_sums_jacobian_jvp(n_max, series_reference, sums_reference, primals, tangents):
    sums = _composed_reference(n_max, series_reference, sums_reference)

    def value_and_jacobian(x, m):
        return sums(x, m), _jacobian_by_real_parts(sums, x, m)

    return jax.jvp(value_and_jacobian, primals, tangents)


@_efficiency_sums.defjvp
def _efficiency_sums_jvp(n_max, series_reference, sums_reference, primals, tangents):
    (x, m), (dx, dm) = primals, tangents
    sums, jac = _efficiency_sums_jacobian(x, m, n_max, series_reference, sums_reference)
    return sums, _contract(jac, _real_directions(dx, dm))


def efficiency_sums(x, m, n_max: int, series_reference: Callable[..., tuple],
                    sums_reference: Callable[..., jax.Array]) -> jax.Array:
    """order_sums(*series(x, m, n_max)) in one kernel, the coefficients never written out.

    First derivatives come from a kernel that accumulates the sums' derivatives along the
    3L real directions (x_l, Re m_l, Im m_l) as it goes, shape (*batch, 7, 3L); higher ones
    from the JAX implementations. Returns float64 of shape (*batch, 7).
    """
    return _efficiency_sums(x, m, n_max, series_reference, sums_reference)
