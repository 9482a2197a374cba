"""Runners for the peer Mie codes, each called through its own public API.

* PyMieDiff 0.13 (torch, CPU): ``pymiediff.multishell.cross_sections``. Its coefficient
  solver has a ``backend`` argument (see ``multishell.mie_coefficients``):

  - ``"pena"`` (the 0.13 default): Pena & Pal / Yang log-derivative recurrences
    (``special.pena_D1_n``, ``pena_D3_n``, ``pena_Q_n``, ``pena_psi_zeta_n``), written as
    Python loops over orders of torch ops; any number of layers;
  - ``"torch"``: explicit spherical Bessel functions j_n, y_n of complex argument in torch,
    combined in the closed-form core-shell a_n, b_n; ``which_jn`` chooses j_n's algorithm:
    ``"recurrence"`` (default; downward recurrence, ``special.sph_jn_torch_via_rec``) or
    ``"ratios"`` (continued-fraction ratios, ``special.sph_jn_torch``);
  - ``"scipy"``: the same closed form with ``scipy.special.spherical_jn/yn`` wrapped in
    ``torch.autograd.Function`` (forward and derivative from SciPy; CPU only).

  "torch" and "scipy" are the two special-function backends of the PyMieDiff paper; "pena"
  was added later. All four variants are timed, forward and backward.
  PyMieDiff batches as particles x wavelengths; a set of N spheres each at its own
  wavelength is passed as N spheres at one wavelength with radii scaled to the same size
  parameters (see ``common.SphereWorkload.at_common_wavelength``).
* scattnlay 2.4 (C++ via pybind11): ``scattnlay.scattnlay(x, m, nmax=...)`` with 2-D x, m
  (one row per particle-wavelength pair); the loop over rows is scattnlay's own Python loop.
* miepython 3.3 (homogeneous spheres only): ``miepython.efficiencies_mx(m, x)`` with arrays
  (its vectorised entry point, a Python loop over ``single_sphere``). Timed with both of its
  backends: pure NumPy (the default) and numba (``MIEPYTHON_USE_JIT=1``; here switched on by
  pointing ``miepython.core.single_sphere`` at ``miepython.mie_jit._single_sphere_nb``,
  which is what the environment variable selects at import). miepython picks its own
  number of orders (Wiscombe's rule per sphere); it cannot be given n_max.

Conventions: every code gets the index as n + ik with k >= 0 (miepython's own convention is
n - ik; ``efficiencies_mx`` conjugates a positive imaginary part itself). Torch runs on the
CPU with its default thread count.
"""

from __future__ import annotations

import contextlib
import importlib
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from common import CoreShellWorkload, SphereWorkload


def available() -> dict[str, str | None]:
    """Version string of each peer, or None when it does not import."""
    out: dict[str, str | None] = {}
    for name, module in [("pymiediff", "pymiediff"), ("torch", "torch"),
                         ("scattnlay", "scattnlay"), ("miepython", "miepython"),
                         ("numba", "numba"), ("scipy", "scipy")]:
        try:
            mod = importlib.import_module(module)
            out[name] = getattr(mod, "__version__", "?")
        except Exception:
            out[name] = None
    if out.get("scattnlay") == "?":
        try:
            from importlib.metadata import version

            out["scattnlay"] = version("scattnlay")
        except Exception:
            pass
    return out


# ======================================================================================
# PyMieDiff
# ======================================================================================

#: (label, backend, which_jn) of every PyMieDiff variant timed.
PYMIEDIFF_VARIANTS: list[tuple[str, str, str]] = [
    ("pena", "pena", "recurrence"),
    ("torch/ratios", "torch", "ratios"),
    ("torch/recurrence", "torch", "recurrence"),
    ("scipy", "scipy", "recurrence"),
]


def _torch():
    import torch

    return torch


def torch_info() -> dict[str, Any]:
    torch = _torch()
    return {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "torch_device": "cpu"}


class PyMieDiffCoreShell:
    """PyMieDiff on a core-shell workload: forward (no autograd) and gradient.

    The gradient is d(sum Q_sca)/d(r_core, r_shell, Re n_core, Im n_core, Re n_shell,
    Im n_shell), each of shape (B,), from one forward pass with autograd plus backward().
    """

    def __init__(self, wl: CoreShellWorkload, backend: str, which_jn: str = "recurrence"):
        torch = _torch()
        self.backend, self.which_jn, self.n_max = backend, which_jn, wl.n_max
        self.k0 = torch.as_tensor(2 * np.pi / wl.wavelength, dtype=torch.float64)
        self.single = wl.r_core.shape[0] == 1
        self.params = [np.asarray(v, dtype=np.float64) for v in (
            wl.r_core, wl.r_shell, wl.n_core.real, wl.n_core.imag,
            wl.n_shell.real, wl.n_shell.imag)]

    def _leaves(self, requires_grad: bool):
        torch = _torch()
        leaves = [torch.tensor(p, dtype=torch.float64, requires_grad=requires_grad)
                  for p in self.params]
        if self.single:  # PyMieDiff reads a 1-element eps as a spectrum: pass scalars
            leaves = [torch.tensor(p[0], dtype=torch.float64, requires_grad=requires_grad)
                      for p in self.params]
        return leaves

    def _run(self, leaves):
        torch = _torch()
        import pymiediff

        rc, rs, ncr, nci, nsr, nsi = leaves
        eps_c = torch.complex(ncr, nci) ** 2
        eps_s = torch.complex(nsr, nsi) ** 2
        return pymiediff.multishell.cross_sections(
            self.k0, r_c=rc, eps_c=eps_c, r_s=rs, eps_s=eps_s, eps_env=1.0,
            backend=self.backend, which_jn=self.which_jn, n_max=self.n_max)

    def forward(self) -> dict[str, np.ndarray]:
        torch = _torch()
        with torch.no_grad():
            res = self._run(self._leaves(False))
        self.last = {k: res[k].reshape(-1, self.k0.shape[0]).numpy()
                     for k in ("q_ext", "q_sca", "q_abs")}
        return self.last

    def gradient(self) -> list[np.ndarray]:
        leaves = self._leaves(True)
        res = self._run(leaves)
        res["q_sca"].sum().backward()
        self.last_grad = [np.atleast_1d(leaf.grad.numpy()) for leaf in leaves]
        return self.last_grad


class PyMieDiffSpheres:
    """PyMieDiff on N homogeneous spheres (one size parameter each), forward only."""

    def __init__(self, wl: SphereWorkload, backend: str, which_jn: str = "recurrence"):
        torch = _torch()
        radius, wavelength = wl.at_common_wavelength()
        self.backend, self.which_jn, self.n_max = backend, which_jn, wl.n_max
        self.k0 = torch.as_tensor([2 * np.pi / wavelength], dtype=torch.float64)
        self.r = torch.as_tensor(radius, dtype=torch.float64)
        self.eps = torch.as_tensor(wl.n, dtype=torch.complex128) ** 2
        if self.r.shape[0] == 1:
            self.r, self.eps = self.r[0], self.eps[0]

    def forward(self) -> dict[str, np.ndarray]:
        torch = _torch()
        import pymiediff

        with torch.no_grad():
            res = pymiediff.multishell.cross_sections(
                self.k0, r_c=self.r, eps_c=self.eps, eps_env=1.0, backend=self.backend,
                which_jn=self.which_jn, n_max=self.n_max)
        self.last = {k: res[k].reshape(-1).numpy() for k in ("q_ext", "q_sca", "q_abs")}
        return self.last


# ======================================================================================
# scattnlay
# ======================================================================================


def _scattnlay(x: np.ndarray, m: np.ndarray, n_max: int | None) -> dict[str, np.ndarray]:
    from scattnlay import scattnlay

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = scattnlay(x, m, nmax=-1 if n_max is None else int(n_max))
    _, q_ext, q_sca, q_abs, q_bk = out[:5]
    return {"q_ext": q_ext, "q_sca": q_sca, "q_abs": q_abs, "q_back": q_bk}


class ScattnlayCoreShell:
    """scattnlay on every (particle, wavelength) pair of a core-shell workload."""

    def __init__(self, wl: CoreShellWorkload, n_max: int | None = None):
        b, w = wl.shape
        k = 2 * np.pi / wl.wavelength  # host index 1
        x = np.stack([wl.r_core[:, None] * k[None, :], wl.r_shell[:, None] * k[None, :]], -1)
        m = np.stack([np.broadcast_to(wl.n_core[:, None], (b, w)),
                      np.broadcast_to(wl.n_shell[:, None], (b, w))], -1)
        self.x = np.ascontiguousarray(x.reshape(b * w, 2))
        self.m = np.ascontiguousarray(m.reshape(b * w, 2).astype(complex))
        self.shape = (b, w)
        self.n_max = wl.n_max if n_max is None else n_max

    def forward(self) -> dict[str, np.ndarray]:
        out = _scattnlay(self.x, self.m, self.n_max)
        self.last = {k: v.reshape(self.shape) for k, v in out.items()}
        return self.last


class ScattnlaySpheres:
    """scattnlay on N homogeneous spheres, each at its own wavelength."""

    def __init__(self, wl: SphereWorkload, n_max: int | None = None):
        self.x = np.ascontiguousarray(wl.x[:, None])
        self.m = np.ascontiguousarray(wl.n[:, None].astype(complex))
        self.n_max = wl.n_max if n_max is None else n_max

    def forward(self) -> dict[str, np.ndarray]:
        self.last = _scattnlay(self.x, self.m, self.n_max)
        return self.last


# ======================================================================================
# miepython
# ======================================================================================


@contextlib.contextmanager
def _miepython_backend(jit: bool):
    """Run miepython.efficiencies_mx with its numba (jit=True) or NumPy backend."""
    import miepython.core as core

    original = core.single_sphere
    if jit:
        from miepython import mie_jit

        core.single_sphere = mie_jit._single_sphere_nb
    else:
        from miepython import mie_nojit

        core.single_sphere = mie_nojit._single_sphere_py
    try:
        yield
    finally:
        core.single_sphere = original


class MiepythonSpheres:
    """miepython.efficiencies_mx on N homogeneous spheres (arrays of m and x)."""

    def __init__(self, wl: SphereWorkload, jit: bool):
        self.jit = jit
        self.m = np.asarray(wl.n, dtype=complex)
        self.x = np.asarray(wl.x, dtype=float)

    def forward(self) -> dict[str, np.ndarray]:
        import miepython

        with _miepython_backend(self.jit):
            if self.x.shape[0] == 1:  # scalar path of efficiencies_mx
                out = miepython.efficiencies_mx(complex(self.m[0]), float(self.x[0]))
                out = [np.atleast_1d(np.asarray(v, dtype=float)) for v in out]
            else:
                out = miepython.efficiencies_mx(self.m, self.x)
        q_ext, q_sca, q_back, _ = out
        self.last = {"q_ext": q_ext, "q_sca": q_sca, "q_abs": q_ext - q_sca, "q_back": q_back}
        return self.last


def make_runner(kind: str, wl: Any, **kw: Any) -> Callable[[], Any]:
    """Small convenience used by bench_core: ``make_runner('scattnlay', wl)()``."""
    classes = {("scattnlay", CoreShellWorkload): ScattnlayCoreShell,
               ("scattnlay", SphereWorkload): ScattnlaySpheres,
               ("miepython", SphereWorkload): MiepythonSpheres,
               ("pymiediff", CoreShellWorkload): PyMieDiffCoreShell,
               ("pymiediff", SphereWorkload): PyMieDiffSpheres}
    return classes[(kind, type(wl))](wl, **kw).forward
