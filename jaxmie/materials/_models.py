"""Analytic dispersion models with differentiable parameters.

Every model is a material (a pytree callable `wavelength_nm -> n + ik`) whose parameters are
leaves: `jax.grad` with respect to them works, and so does fitting them with optax. Resonance
models take photon energies in eV (hbar omega = 1239.84198 eV nm / wavelength), the usual unit
of published Drude and Lorentz parameters; wavelength-based models take nanometres.

Time dependence exp(-i omega t): a passive model has Im eps >= 0, and the index is the root
n + ik of eps with n >= 0 and k >= 0.

References:
    C. F. Bohren and D. R. Huffman, Absorption and Scattering of Light by Small Particles
    (Wiley, 1983), ch. 9 (Drude and Lorentz models).
    A. D. Rakic, A. B. Djurisic, J. M. Elazar, M. L. Majewski, "Optical properties of
    metallic films for vertical-cavity optoelectronic devices", Appl. Opt. 37, 5271 (1998).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._base import Material, index_dtype, sqrt_permittivity, static_field

__all__ = [
    "HC_EV_NM",
    "Cauchy",
    "Constant",
    "Drude",
    "DrudeLorentz",
    "Sellmeier",
    "drude_lorentz_rakic",
    "photon_energy",
]

HC_EV_NM = 1239.8419843320026
"""h c in eV nm: photon energy (eV) = HC_EV_NM / wavelength (nm)."""

_UNBOUNDED = (0.0, float("inf"))


def photon_energy(wavelength: jax.Array) -> jax.Array:
    """Photon energy in eV of a vacuum wavelength in nm (same shape and dtype)."""
    return HC_EV_NM / wavelength


def _param(value: Any, dtype: Any) -> jax.Array:
    return jnp.asarray(value).astype(dtype)


def _trailing(value: Any, dtype: Any, ndim: int) -> jax.Array:
    """A per-term parameter (P,) reshaped to (1,) * ndim + (P,), to combine with
    wavelength[..., None] without implicit rank promotion."""
    terms = jnp.atleast_1d(jnp.asarray(value)).astype(dtype)
    return terms.reshape((1,) * ndim + terms.shape[-1:])


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class Constant(Material):
    """Wavelength-independent index.

    Attributes:
        index: complex index n + ik (k >= 0), a scalar (leaf).
        wavelength_range: valid range in nm (static); unbounded by default.
        name: label used in messages.
    """

    index: Any
    wavelength_range: tuple[float, float] = static_field(_UNBOUNDED)
    name: str = static_field("constant")

    def _evaluate(self, wavelength: jax.Array) -> jax.Array:
        cdt = index_dtype(wavelength.dtype)
        return jnp.broadcast_to(_param(self.index, cdt), wavelength.shape)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class Drude(Material):
    """Free-electron (Drude) metal.

    .. math::
        \\varepsilon(\\omega) = \\varepsilon_\\infty
            - \\frac{\\omega_p^2}{\\omega^2 + i\\gamma\\omega}

    Attributes:
        omega_p: plasma energy hbar omega_p in eV, scalar (leaf).
        gamma: damping hbar gamma in eV, scalar, >= 0 (leaf).
        eps_inf: background permittivity, scalar (leaf), default 1.
        wavelength_range: valid range in nm (static); unbounded by default.
        name: label used in messages.
    """

    omega_p: Any
    gamma: Any
    eps_inf: Any = 1.0
    wavelength_range: tuple[float, float] = static_field(_UNBOUNDED)
    name: str = static_field("Drude")

    def _evaluate(self, wavelength: jax.Array) -> jax.Array:
        cdt = index_dtype(wavelength.dtype)
        w = photon_energy(wavelength).astype(cdt)
        eps = _drude_permittivity(self, w, cdt)
        return sqrt_permittivity(eps)


def _drude_permittivity(material: Drude | DrudeLorentz, w: jax.Array, cdt) -> jax.Array:
    """eps_inf - omega_p^2 / (omega (omega + i gamma)) at photon energies w (eV, complex)."""
    wp, g = _param(material.omega_p, cdt), _param(material.gamma, cdt)
    return _param(material.eps_inf, cdt) - wp * wp / (w * (w + 1j * g))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class DrudeLorentz(Material):
    """Drude term plus Lorentz oscillators (set omega_p = 0 for a pure Lorentz medium).

    .. math::
        \\varepsilon(\\omega) = \\varepsilon_\\infty
            - \\frac{\\omega_p^2}{\\omega^2 + i\\gamma\\omega}
            + \\sum_j \\frac{\\Delta\\varepsilon_j\\, \\omega_j^2}
                           {\\omega_j^2 - \\omega^2 - i\\gamma_j\\omega}

    Attributes:
        omega_p: Drude plasma energy in eV, scalar (leaf).
        gamma: Drude damping in eV, scalar (leaf).
        delta_eps: oscillator strengths (static permittivity steps), shape (J,) (leaf).
        omega_0: resonance energies in eV, shape (J,) (leaf).
        gamma_0: oscillator dampings in eV, shape (J,) (leaf).
        eps_inf: background permittivity, scalar (leaf), default 1.
        wavelength_range: valid range in nm (static); unbounded by default.
        name: label used in messages.
    """

    omega_p: Any
    gamma: Any
    delta_eps: Any
    omega_0: Any
    gamma_0: Any
    eps_inf: Any = 1.0
    wavelength_range: tuple[float, float] = static_field(_UNBOUNDED)
    name: str = static_field("Drude-Lorentz")

    def _evaluate(self, wavelength: jax.Array) -> jax.Array:
        cdt = index_dtype(wavelength.dtype)
        w = photon_energy(wavelength).astype(cdt)
        eps = _drude_permittivity(self, w, cdt)
        de = _trailing(self.delta_eps, cdt, w.ndim)
        w0 = _trailing(self.omega_0, cdt, w.ndim)
        g0 = _trailing(self.gamma_0, cdt, w.ndim)
        x = w[..., None]
        eps = eps + jnp.sum(de * w0 * w0 / (w0 * w0 - x * x - 1j * g0 * x), axis=-1)
        return sqrt_permittivity(eps)


def drude_lorentz_rakic(omega_p: float, f0: float, gamma0: float, f: Any, gamma: Any,
                        omega: Any, *, name: str = "Drude-Lorentz",
                        wavelength_range: tuple[float, float] = _UNBOUNDED) -> DrudeLorentz:
    """A `DrudeLorentz` from the parameters as tabulated by Rakic et al. (1998).

    Rakic's form is eps = 1 - f0 wp^2 / (w (w + i G0)) + sum_j f_j wp^2 / (w_j^2 - w^2 - i w G_j),
    i.e. omega_p = sqrt(f0) wp, gamma = G0, delta_eps_j = f_j wp^2 / w_j^2 here.

    Args:
        omega_p: plasma energy wp in eV.
        f0, gamma0: Drude oscillator strength and damping (eV).
        f, gamma, omega: Lorentz strengths, dampings (eV) and energies (eV), shape (J,).
        name: label used in messages.
        wavelength_range: valid range in nm.
    """
    f = np.asarray(f, dtype=np.float64)
    omega = np.asarray(omega, dtype=np.float64)
    return DrudeLorentz(
        omega_p=jnp.asarray(np.sqrt(f0) * omega_p),
        gamma=jnp.asarray(float(gamma0)),
        delta_eps=jnp.asarray(f * omega_p**2 / omega**2),
        omega_0=jnp.asarray(omega),
        gamma_0=jnp.asarray(np.asarray(gamma, dtype=np.float64)),
        eps_inf=jnp.asarray(1.0),
        wavelength_range=wavelength_range,
        name=name,
    )


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class Sellmeier(Material):
    """Sellmeier dielectric (k = 0), with resonance wavelengths in nm.

    .. math::
        n^2(\\lambda) = A + \\sum_i \\frac{B_i \\lambda^2}{\\lambda^2 - C_i^2}

    Attributes:
        b: strengths B_i, shape (P,) (leaf).
        c: resonance wavelengths C_i in nm, shape (P,) (leaf). (Database formula 1 uses
            micrometres: multiply those C by 1000.)
        a: constant term A, scalar (leaf), default 1.
        wavelength_range: valid range in nm (static); unbounded by default, but a Sellmeier
            fit is only meaningful away from its poles, inside the fitted range.
        name: label used in messages.
    """

    b: Any
    c: Any
    a: Any = 1.0
    wavelength_range: tuple[float, float] = static_field(_UNBOUNDED)
    name: str = static_field("Sellmeier")

    def _evaluate(self, wavelength: jax.Array) -> jax.Array:
        dtype = wavelength.dtype
        b = _trailing(self.b, dtype, wavelength.ndim)
        c = _trailing(self.c, dtype, wavelength.ndim)
        l2 = (wavelength * wavelength)[..., None]
        n2 = _param(self.a, dtype) + jnp.sum(b * l2 / (l2 - c * c), axis=-1)
        n = jnp.sqrt(n2)
        return jax.lax.complex(n, jnp.zeros_like(n))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class Cauchy(Material):
    """Cauchy dielectric (k = 0), wavelength in nm.

    .. math::
        n(\\lambda) = \\sum_j \\frac{C_j}{\\lambda^{2j}} = C_0 + \\frac{C_1}{\\lambda^2}
            + \\frac{C_2}{\\lambda^4} + \\dots

    Attributes:
        coefficients: C_0, C_1 (nm^2), C_2 (nm^4), ... shape (J,) (leaf).
        wavelength_range: valid range in nm (static); unbounded by default.
        name: label used in messages.
    """

    coefficients: Any
    wavelength_range: tuple[float, float] = static_field(_UNBOUNDED)
    name: str = static_field("Cauchy")

    def _evaluate(self, wavelength: jax.Array) -> jax.Array:
        dtype = wavelength.dtype
        c = jnp.atleast_1d(jnp.asarray(self.coefficients)).astype(dtype)
        inv2 = 1.0 / (wavelength * wavelength)
        n = jnp.zeros_like(wavelength)
        for j in range(c.shape[0] - 1, -1, -1):  # Horner in 1/lambda^2; J is static
            n = n * inv2 + c[j]
        return jax.lax.complex(n, jnp.zeros_like(n))
