r"""Far-field observables from the Mie coefficients: efficiencies, amplitudes, Mueller matrix.

Every function takes a particle (batch shape P), vacuum wavelengths in nm (shape W) and the
host index, computes the coefficients once (jaxmie._coefficients.series) and derives its
observables from them. Outputs have shape (*P, *W) or, with angles, (*P, *W, *T).

Formulas (Bohren & Huffman 1983, x = 2 pi n_env r_outer / wavelength; sums over n >= 1):

.. math::
    Q_{ext} = \frac{2}{x^2}\sum (2n+1)\,\mathrm{Re}(a_n + b_n),\qquad
    Q_{sca} = \frac{2}{x^2}\sum (2n+1)(|a_n|^2 + |b_n|^2),

    Q_{abs} = Q_{ext} - Q_{sca}
            = \frac{2}{x^2}\sum (2n+1)\,[\mathrm{Re}\,a_n - |a_n|^2 + \mathrm{Re}\,b_n - |b_n|^2],

    g\,Q_{sca} = \frac{4}{x^2}\Big[\sum \frac{n(n+2)}{n+1}
        \mathrm{Re}(a_n a_{n+1}^* + b_n b_{n+1}^*)
        + \sum \frac{2n+1}{n(n+1)}\mathrm{Re}(a_n b_n^*)\Big],\qquad
    Q_{pr} = Q_{ext} - g\,Q_{sca},

    S_1(\theta) = \sum \frac{2n+1}{n(n+1)}(a_n\pi_n + b_n\tau_n),\qquad
    S_2(\theta) = \sum \frac{2n+1}{n(n+1)}(a_n\tau_n + b_n\pi_n).

Forward and backward efficiencies are the radar (differential, 4 pi-normalised) ones, so
that for a Rayleigh sphere Q_back = Q_fwd = 1.5 Q_sca:

.. math::
    Q_{back} = \frac{4|S_1(\pi)|^2}{x^2}
             = \frac{1}{x^2}\Big|\sum (2n+1)(-1)^n (a_n - b_n)\Big|^2,\qquad
    Q_{fwd} = \frac{4|S_1(0)|^2}{x^2} = \frac{1}{x^2}\Big|\sum (2n+1)(a_n + b_n)\Big|^2.

(Some papers print the (-1)^n sum with a_n + b_n or swap the names; these are the ones that
match MIEV0, scattnlay and Yang's tables.) The absorbed part per order is computed without
the cancellation Re(a_n) - |a_n|^2 suffers for small or weakly absorbing particles (see
jaxmie._coefficients), so Q_ext = Q_sca + Q_abs is accurate in every regime and Q_abs is
exactly zero for lossless particles.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from . import _series
from . import _special as special
from ._coefficients import MieSeries, _batched_series, _size_parameters
from ._dispatch import particle_jit, prepare
from ._particles import Particle, layer_radii
from ._typing import Angles, HostIndex, Wavelength

__all__ = [
    "CrossSections",
    "Efficiencies",
    "Intensities",
    "MuellerMatrix",
    "Multipoles",
    "amplitudes",
    "cross_sections",
    "efficiencies",
    "intensities",
    "mueller_matrix",
    "multipoles",
]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Efficiencies:
    """Efficiencies (cross sections over pi r_outer^2), each of shape (*P, *W).

    Attributes:
        q_ext, q_sca, q_abs: extinction, scattering, absorption.
        q_back, q_fwd: radar backscattering and forward-scattering efficiencies.
        g: asymmetry parameter <cos theta> (0 where Q_sca = 0).
        q_pr: radiation-pressure efficiency Q_ext - g Q_sca.
    """

    q_ext: jax.Array
    q_sca: jax.Array
    q_abs: jax.Array
    q_back: jax.Array
    q_fwd: jax.Array
    g: jax.Array
    q_pr: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class CrossSections:
    """Cross sections in nm^2 (and g), each of shape (*P, *W).

    The fields carry the efficiencies' names (q_ext, ...) so that code handling one handles
    the other; c_ext, c_sca, ... are the same values under the usual names.
    """

    q_ext: jax.Array
    q_sca: jax.Array
    q_abs: jax.Array
    q_back: jax.Array
    q_fwd: jax.Array
    g: jax.Array
    q_pr: jax.Array

    c_ext = property(lambda self: self.q_ext)
    c_sca = property(lambda self: self.q_sca)
    c_abs = property(lambda self: self.q_abs)
    c_back = property(lambda self: self.q_back)
    c_fwd = property(lambda self: self.q_fwd)
    c_pr = property(lambda self: self.q_pr)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Multipoles:
    """Contributions of each electric (a_n) and magnetic (b_n) order, shape (*P, *W, n_max).

    Summed over the last axis, q_ext_electric + q_ext_magnetic = Q_ext and
    q_sca_electric + q_sca_magnetic = Q_sca. Order n = 1 (dipole) at index 0.
    """

    q_ext_electric: jax.Array
    q_ext_magnetic: jax.Array
    q_sca_electric: jax.Array
    q_sca_magnetic: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MuellerMatrix:
    """Non-zero elements of a sphere's Mueller matrix (B&H 4.77), shape (*P, *W, *T).

    S11 = (|S1|^2 + |S2|^2)/2, S12 = (|S2|^2 - |S1|^2)/2, S33 = Re(S1 S2*),
    S34 = Im(S2 S1*); S22 = S11, S44 = S33, S21 = S12, S43 = -S34.
    """

    s11: jax.Array
    s12: jax.Array
    s33: jax.Array
    s34: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Intensities:
    """Scattered intensities, shape (*P, *W, *T): i_par = |S2|^2 (parallel to the scattering
    plane), i_per = |S1|^2 (perpendicular), i_unp = (i_par + i_per)/2 (unpolarised)."""

    i_par: jax.Array
    i_per: jax.Array
    i_unp: jax.Array


def _orders(s: MieSeries) -> jax.Array:
    return jnp.arange(1, s.n_max + 1).astype(s.x.dtype)


# The observables from a series are jitted so that eager calls compile them once, not op by op.
@jax.jit
def _multipoles(s: MieSeries) -> Multipoles:
    n = _orders(s)
    weight = 2 * (2 * n + 1) / (s.x**2)[..., None]
    sca_a, sca_b = weight * special.abs_squared(s.a), weight * special.abs_squared(s.b)
    return Multipoles(
        q_ext_electric=sca_a + weight * s.absorption_a,
        q_ext_magnetic=sca_b + weight * s.absorption_b,
        q_sca_electric=sca_a,
        q_sca_magnetic=sca_b,
    )


@jax.custom_jvp
def _quotient(a: jax.Array, b: jax.Array) -> jax.Array:
    """a / b with the derivative (da - (a/b) db) / b, which never forms b^2: for a float32
    sphere with x = 1e-5, Q_sca ~ 1e-20 and its square underflows (0 / 0 in d(a/b))."""
    return a / b


@_quotient.defjvp
def _quotient_jvp(primals, tangents):
    (a, b), (da, db) = primals, tangents
    q = _quotient(a, b)
    return q, (da - q * db) / b


def _from_sums(s: _series.EfficiencySums) -> Efficiencies:
    q_ext = s.sca + s.abs
    scatters = s.sca > 0
    g = jnp.where(scatters, _quotient(s.g_sca, jnp.where(scatters, s.sca, 1)), 0)
    return Efficiencies(q_ext=q_ext, q_sca=s.sca, q_abs=s.abs, q_back=special.abs_squared(s.back),
                        q_fwd=special.abs_squared(s.fwd), g=g, q_pr=q_ext - s.g_sca)


@functools.partial(jax.jit, static_argnames=("n_max",))
def _efficiencies_of(x: jax.Array, m: jax.Array, n_max: int) -> Efficiencies:
    """Efficiencies from size parameters and indices (*batch, L), the coefficients never
    stored (jaxmie._series.efficiency_sums)."""
    return _from_sums(_series.efficiency_sums(x, m, n_max))


def efficiencies(particle: Particle, wavelength: Wavelength, n_env: HostIndex = 1.0,
                 n_max: int | None = None
                 ) -> Efficiencies:
    """Extinction, scattering, absorption, back/forward efficiencies, g and Q_pr.

    Args:
        particle: Sphere, CoreShell or Multilayer, batch shape P (radii in nm).
        wavelength: vacuum wavelengths in nm, shape W.
        n_env: real refractive index of the host medium.
        n_max: number of orders (static); None picks jaxmie.n_max_for, which converges
            every observable to float64 (concrete sizes only).

    Returns:
        Efficiencies with fields of shape (*P, *W), normalised by pi r_outer^2.

    Examples:
        >>> import jax.numpy as jnp
        >>> import jaxmie as jm
        >>> e = jm.efficiencies(jm.Sphere(radius=100.0, n=1.5 + 0.01j), 550.0)
        >>> print(f"{e.q_ext:.6f} {e.q_sca:.6f} {e.q_abs:.6f} {e.g:.6f}")
        0.369831 0.334830 0.035000 0.268548
        >>> batch = jm.Sphere(radius=jnp.array([50.0, 100.0, 150.0]), n=1.59)
        >>> jm.efficiencies(batch, jnp.array([450.0, 650.0])).q_sca.shape
        (3, 2)
    """
    wavelength, n_max = prepare(particle, wavelength, n_env, n_max)
    return _efficiencies_call(particle, wavelength, n_env, n_max=n_max)


@functools.partial(particle_jit, static_argnames=("n_max",))
def _efficiencies_call(particle, wavelength, n_env, n_max):
    return _efficiencies_of(*_size_parameters(particle, wavelength, n_env), n_max)


def cross_sections(particle: Particle, wavelength: Wavelength, n_env: HostIndex = 1.0,
                 n_max: int | None = None
                   ) -> CrossSections:
    """Cross sections in nm^2 (fields q_ext, ... as in efficiencies, also as c_ext, ...).

    Returns:
        CrossSections with fields of shape (*P, *W); g is dimensionless.
    """
    wavelength, n_max = prepare(particle, wavelength, n_env, n_max)
    return _cross_sections_call(particle, wavelength, n_env, n_max=n_max)


@functools.partial(particle_jit, static_argnames=("n_max",))
def _cross_sections_call(particle, wavelength, n_env, n_max):
    q = _efficiencies_call(particle, wavelength, n_env, n_max=n_max)
    wavelength = jnp.asarray(wavelength)
    r_outer = layer_radii(particle)[..., -1][(..., *(None,) * wavelength.ndim)]
    area = jnp.pi * r_outer.astype(q.q_ext.dtype) ** 2
    scaled = {f.name: getattr(q, f.name) * area for f in dataclasses.fields(q)}
    scaled["g"] = q.g
    return CrossSections(**scaled)


def multipoles(particle: Particle, wavelength: Wavelength, n_env: HostIndex = 1.0,
                 n_max: int | None = None
               ) -> Multipoles:
    """Electric and magnetic contributions of every order to Q_ext and Q_sca.

    Returns:
        Multipoles with fields of shape (*P, *W, n_max).
    """
    wavelength, n_max = prepare(particle, wavelength, n_env, n_max)
    return _multipoles_call(particle, wavelength, n_env, n_max=n_max)


@functools.partial(particle_jit, static_argnames=("n_max",))
def _multipoles_call(particle, wavelength, n_env, n_max):
    return _multipoles(_batched_series(*_size_parameters(particle, wavelength, n_env), n_max))


@jax.jit
def _amplitudes(s: MieSeries, theta) -> tuple[jax.Array, jax.Array]:
    theta = jnp.asarray(theta).astype(s.x.dtype)
    n = _orders(s)
    pi, tau = special.angular_functions(jnp.cos(theta), s.n_max)  # (*T, N)
    weight = (2 * n + 1) / (n * (n + 1))
    a, b = s.a * weight, s.b * weight
    pi, tau = pi.astype(a.dtype), tau.astype(a.dtype)
    contract = lambda c, f: jnp.tensordot(c, f, axes=([-1], [-1]))
    return contract(a, pi) + contract(b, tau), contract(a, tau) + contract(b, pi)


@functools.partial(particle_jit, static_argnames=("n_max",))
def _amplitudes_call(particle, wavelength, theta, n_env, n_max):
    return _amplitudes(_batched_series(*_size_parameters(particle, wavelength, n_env), n_max),
                       theta)


def amplitudes(particle: Particle, wavelength: Wavelength, theta: Angles,
               n_env: HostIndex = 1.0, n_max: int | None = None
               ) -> tuple[jax.Array, jax.Array]:
    """Scattering amplitudes S1(theta), S2(theta) (Bohren & Huffman 4.74).

    Args:
        particle: batch shape P. wavelength: nm, shape W. theta: scattering angles in
            radians, shape T (0 = forward). n_env, n_max: as in efficiencies.

    Returns:
        (S1, S2): complex arrays of shape (*P, *W, *T).

    Examples:
        The optical theorem, Q_ext = 4 Re S(0) / x^2 (S1 = S2 forward):

        >>> import jax.numpy as jnp
        >>> import jaxmie as jm
        >>> sphere = jm.Sphere(radius=100.0, n=1.5 + 0.01j)
        >>> s1, s2 = jm.amplitudes(sphere, 550.0, jnp.array([0.0, jnp.pi / 2, jnp.pi]))
        >>> s1.shape, s1.dtype
        ((3,), dtype('complex128'))
        >>> x = 2 * jnp.pi * 100.0 / 550.0
        >>> print(f"{4 * s1[0].real / x**2:.6f}")
        0.369831
    """
    wavelength, n_max = prepare(particle, wavelength, n_env, n_max, theta=theta)
    return _amplitudes_call(particle, wavelength, theta, n_env, n_max=n_max)


def mueller_matrix(particle: Particle, wavelength: Wavelength, theta: Angles,
                   n_env: HostIndex = 1.0,
                   n_max: int | None = None) -> MuellerMatrix:
    """Mueller matrix elements S11, S12, S33, S34 at angles theta (radians).

    Integrated over the sphere, S11 gives the scattering efficiency:
    Q_sca = (1 / (pi x^2)) \\int S11 dOmega. Shapes (*P, *W, *T).
    """
    wavelength, n_max = prepare(particle, wavelength, n_env, n_max, theta=theta)
    return _mueller_call(particle, wavelength, theta, n_env, n_max=n_max)


@functools.partial(particle_jit, static_argnames=("n_max",))
def _mueller_call(particle, wavelength, theta, n_env, n_max):
    s1, s2 = _amplitudes_call(particle, wavelength, theta, n_env, n_max=n_max)
    i1, i2 = special.abs_squared(s1), special.abs_squared(s2)
    product = s2 * jnp.conj(s1)
    return MuellerMatrix(s11=(i1 + i2) / 2, s12=(i2 - i1) / 2, s33=jnp.real(product),
                         s34=jnp.imag(product))


def intensities(particle: Particle, wavelength: Wavelength, theta: Angles,
               n_env: HostIndex = 1.0, n_max: int | None = None
                ) -> Intensities:
    """Parallel, perpendicular and unpolarised scattered intensities, shape (*P, *W, *T)."""
    wavelength, n_max = prepare(particle, wavelength, n_env, n_max, theta=theta)
    return _intensities_call(particle, wavelength, theta, n_env, n_max=n_max)


@functools.partial(particle_jit, static_argnames=("n_max",))
def _intensities_call(particle, wavelength, theta, n_env, n_max):
    s1, s2 = _amplitudes_call(particle, wavelength, theta, n_env, n_max=n_max)
    i_per, i_par = special.abs_squared(s1), special.abs_squared(s2)
    return Intensities(i_par=i_par, i_per=i_per, i_unp=(i_par + i_per) / 2)
