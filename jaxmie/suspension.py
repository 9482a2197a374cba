r"""Dense suspensions of polydisperse hard spheres: form factor, Percus-Yevick structure
factor, the decoupling approximation, and fitting (volume fraction, polydispersity).

Scattering vector (host index n_env, vacuum wavelength lambda, angle theta):

.. math:: q = \frac{4\pi n_{env}}{\lambda}\sin\frac{\theta}{2}\quad(\mathrm{nm}^{-1})

Rayleigh-Gans-Debye sphere amplitude and form factor (P(0) = 1):

.. math:: f(qR) = \frac{3(\sin qR - qR\cos qR)}{(qR)^3},\qquad P(q) = f(qR)^2

Percus-Yevick structure factor of hard spheres of diameter sigma at volume fraction eta
(Wertheim 1963, Thiele 1963; the form of Kinning & Thomas 1984), A = q sigma:

.. math::
    S(q) = \frac{1}{1 + 24\eta\,G(A)/A},\qquad
    \frac{G(A)}{A} = \alpha f_1(A) + \beta f_2(A) + \gamma f_3(A),

    \alpha = \frac{(1+2\eta)^2}{(1-\eta)^4},\ \beta = -6\eta\frac{(1+\eta/2)^2}{(1-\eta)^4},\
    \gamma = \frac{\eta\alpha}{2},\quad
    f_1 = \frac{\sin A - A\cos A}{A^3},\
    f_2 = \frac{2A\sin A + (2 - A^2)\cos A - 2}{A^4},

    f_3 = \frac{-A^4\cos A + 4[(3A^2 - 6)\cos A + (A^3 - 6A)\sin A + 6]}{A^6}

so that S(0) = (1 - eta)^4 / (1 + 2 eta)^2. The f_i cancel catastrophically for small A
(f_3 loses ~6 log10(1/A) digits), so below A = 3 they are evaluated from their Taylor
series; both branches are selected with the "double where" so values and gradients are
finite at q = 0.

Decoupling approximation for polydisperse spheres (Kotlarchyk & Chen 1983), with the
amplitude F(q, R) = V(R) f(qR) averaged over the number distribution and S for monodisperse
spheres of the mean diameter 2 <R>:

.. math::
    I(q) = \langle F^2 \rangle\,[1 + \beta(q)(S(q) - 1)],\qquad
    \beta(q) = \frac{\langle F \rangle^2}{\langle F^2 \rangle}

and `decoupling` returns it normalised by <V^2>: I/<V^2> = P(q)[1 + beta(S - 1)] with
P = <F^2>/<V^2>. For light, `mie_decoupling` uses the Mie amplitudes S1, S2 in place of F.
Ding, Tung, Chen & Do (2025) study where this approximation holds for polydisperse hard
spheres; the fit here inverts it for (eta, polydispersity).

References:
    M. S. Wertheim, Phys. Rev. Lett. 10, 321 (1963); E. Thiele, J. Chem. Phys. 39, 474 (1963).
    D. J. Kinning and E. L. Thomas, Macromolecules 17, 1712 (1984).
    M. Kotlarchyk and S.-H. Chen, J. Chem. Phys. 79, 2461 (1983).
    L. Ding, C.-H. Tung, W.-R. Chen and C. Do, "Deciphering the scattering of polydisperse
    hard spheres using deep learning" (2025).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _special as special
from ._distributions import Gamma, Quadrature, adaptive_breaks, concrete_distribution
from ._observables import amplitudes
from ._particles import Sphere
from ._truncation import n_max_for
from ._validation import concrete_value

__all__ = [
    "Decoupling",
    "SuspensionFit",
    "decoupling",
    "fit_suspension",
    "mie_decoupling",
    "percus_yevick",
    "scattering_vector",
    "sphere_form_amplitude",
    "sphere_form_factor",
]


def scattering_vector(theta, wavelength, n_env=1.0):
    """q = 4 pi n_env sin(theta / 2) / wavelength in 1/nm.

    Args:
        theta: scattering angles in radians, shape T. wavelength: vacuum wavelength in nm
            (broadcasts with theta). n_env: real host index.
    """
    return 4 * jnp.pi * n_env * jnp.sin(jnp.asarray(theta) / 2) / jnp.asarray(wavelength)


def _series(coefficients: list[float], x2):
    """sum_j c_j x2^j by Horner's rule."""
    out = jnp.zeros_like(x2) + coefficients[-1]
    for c in coefficients[-2::-1]:
        out = out * x2 + c
    return out


_TERMS = 24  # enough for |A| < 3 to round-off: the next term is below 1e-20
# f1 = sum_j (-1)^j 2 (j + 1) A^(2j) / (2j + 3)!
_F1 = [(-1) ** j * 2 * (j + 1) / math.factorial(2 * j + 3) for j in range(_TERMS)]
# f2 = sum_{m>=2} (-1)^m 2 (2m - 1)(m - 1) A^(2m - 4) / (2m)!
_F2 = [(-1) ** m * 2 * (2 * m - 1) * (m - 1) / math.factorial(2 * m)
       for m in range(2, _TERMS + 2)]


def _f3_coefficient(m: int) -> float:
    """Coefficient of A^(2m - 6) in f3, from the series of cos and sin term by term."""
    n = 2 * m
    c = (-n * (n - 1) * (n - 2) * (n - 3) - 12 * n * (n - 1) - 24 + 4 * n * (n - 1) * (n - 2)
         + 24 * n)
    return (-1) ** m * c / math.factorial(n)


_F3 = [_f3_coefficient(m) for m in range(3, _TERMS + 3)]
_SWITCH = 3.0


def _closed(a):
    s, c = jnp.sin(a), jnp.cos(a)
    a2 = a * a
    f1 = (s - a * c) / (a2 * a)
    f2 = (2 * a * s + (2 - a2) * c - 2) / (a2 * a2)
    f3 = (-a2 * a2 * c + 4 * ((3 * a2 - 6) * c + (a2 * a - 6 * a) * s + 6)) / (a2 * a2 * a2)
    return f1, f2, f3


def _f_functions(a):
    """(f1, f2, f3)(A), accurate and differentiable for every real A >= 0."""
    small = jnp.abs(a) < _SWITCH
    a_big = jnp.where(small, _SWITCH, a)  # double where: no 0/0 in the unused branch
    a2_small = jnp.where(small, a, 0) ** 2
    series = (_series(_F1, a2_small), _series(_F2, a2_small), _series(_F3, a2_small))
    return tuple(jnp.where(small, s, d) for s, d in zip(series, _closed(a_big)))


def sphere_form_amplitude(qr):
    """RGD amplitude f(qR) = 3 (sin qR - qR cos qR)/(qR)^3, f(0) = 1; any shape, real."""
    return 3 * _f_functions(jnp.asarray(qr))[0]


def sphere_form_factor(q, radius):
    """P(q) = f(qR)^2 of a homogeneous sphere (q in 1/nm, radius in nm; broadcast)."""
    return sphere_form_amplitude(jnp.asarray(q) * jnp.asarray(radius)) ** 2


def percus_yevick(q, diameter, eta):
    """Percus-Yevick hard-sphere structure factor S(q).

    Args:
        q: scattering vector in 1/nm, any shape. diameter: hard-sphere diameter in nm.
        eta: volume fraction, 0 <= eta < 1 (PY is meant for eta below ~0.5).

    Returns:
        S(q), shape of q broadcast with the parameters. S(0) = (1 - eta)^4/(1 + 2 eta)^2,
        finite with finite gradients at q = 0 and eta = 0.
    """
    eta = jnp.asarray(eta)
    one_minus4 = (1 - eta) ** 4
    alpha = (1 + 2 * eta) ** 2 / one_minus4
    beta = -6 * eta * (1 + eta / 2) ** 2 / one_minus4
    gamma = eta * alpha / 2
    f1, f2, f3 = _f_functions(jnp.asarray(q) * diameter)
    return 1 / (1 + 24 * eta * (alpha * f1 + beta * f2 + gamma * f3))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Decoupling:
    """Decoupling-approximation intensity and its parts, each of the shape of q (or angles).

    Attributes:
        form: P(q) = <F^2>(q) / <F^2>(0) (1 at q = 0 for RGD).
        beta: <F>^2 / <F^2> (1 for monodisperse spheres).
        structure: S(q) of monodisperse hard spheres of the mean diameter.
        intensity: P [1 + beta (S - 1)], per particle and normalised by <F^2>(0).
        error: with the adaptive quadrature, the estimated relative error of the size
            averages at each q (of <F^2> against itself, of <F> against sqrt(<F^2>)); None
            with a fixed rule.
    """

    form: jax.Array
    beta: jax.Array
    structure: jax.Array
    intensity: jax.Array
    error: jax.Array | None = None


def _rgd_amplitudes(q, radii):
    """F = V f(qR) with V = R^3 (4 pi / 3 cancels), shape (K, *Q)."""
    r = radii[(..., *(None,) * q.ndim)]
    return r**3 * sphere_form_amplitude(q[None] * r)


def decoupling(q, dist, eta, *, quadrature: Quadrature = Quadrature(),
               rtol: float = 1e-6) -> Decoupling:
    """Decoupling approximation for polydisperse hard spheres in the RGD approximation.

    Args:
        q: scattering vector in 1/nm, shape Q.
        dist: number size distribution (e.g. jaxmie.ensemble.Gamma.schulz(mean, p)).
        eta: volume fraction.
        quadrature: the size average; the default is adaptive, converged to rtol from
            concrete parameters and q (see jaxmie.ensemble.mean_optics); under jit pass a
            fixed rule (Quadrature(nodes=...) or one returned with breaks).
        rtol: target relative error of the adaptive rule.

    Returns:
        Decoupling with fields of shape Q.
    """
    q = jnp.asarray(q)
    dist.check()
    if not quadrature.adaptive or dist.given_nodes:
        return _decoupling(q, dist, eta, quadrature)
    primal = concrete_distribution(dist, "decoupling", q)
    q_host = np.asarray(concrete_value(q), float).reshape(-1)

    def integrand(radii):
        f = np.asarray(_rgd_amplitudes(jnp.asarray(q_host), jnp.asarray(radii)))
        return np.concatenate([f, f * f, radii[:, None] ** 6, radii[:, None]], axis=1)

    count = q_host.size

    def scale(totals):
        mean_f2 = np.abs(totals[count:2 * count])
        return np.concatenate([np.sqrt(mean_f2 * totals[-1]), mean_f2, np.abs(totals[-2:])])

    rule, estimate = _adaptive(primal, integrand, scale, rtol, quadrature, q_host.max())
    out = _decoupling(q, dist, eta, rule)
    error = np.maximum(estimate[:count], estimate[count:2 * count]).reshape(q.shape)
    return dataclasses.replace(out, error=jnp.asarray(error, out.form.dtype))


def _adaptive(dist, integrand, scale, rtol, quadrature, wavenumber_max):
    """adaptive_breaks started from about 16 in q R per panel at the large end."""
    lo, hi = (float(v) for v in dist.radius_range(quadrature))
    width = math.log(hi / lo) if dist._log_variable else (hi - lo) / hi
    start = int(min(max(8, math.ceil(wavenumber_max * hi * width / 16.0)), 1024))
    return adaptive_breaks(dist, integrand, scale, rtol=rtol, quadrature=quadrature,
                           start_panels=start)


@functools.partial(jax.jit, static_argnames=("quadrature",))
def _decoupling(q, dist, eta, quadrature):
    radii, weights = dist.nodes(quadrature)  # (K,)
    volume = radii**3
    amp = _rgd_amplitudes(q, radii)  # (K, *Q)
    mean_f = jnp.tensordot(weights, amp, axes=(0, 0))
    mean_f2 = jnp.tensordot(weights, amp * amp, axes=(0, 0))
    form = mean_f2 / jnp.sum(weights * volume**2)
    beta = mean_f**2 / mean_f2
    s = percus_yevick(q, 2 * jnp.sum(weights * radii), eta)
    return Decoupling(form=form, beta=beta, structure=s, intensity=form * (1 + beta * (s - 1)))


def mie_decoupling(dist, n, wavelength, theta, eta, n_env=1.0, *,
                   quadrature: Quadrature = Quadrature(), n_max: int | None = None,
                   rtol: float = 1e-6) -> Decoupling:
    """Decoupling approximation for unpolarised light with exact Mie amplitudes.

    F is replaced by the amplitudes S1, S2 (Bohren & Huffman 4.74):

    .. math::
        \\langle F^2 \\rangle \\to \\langle S_{11} \\rangle
        = \\tfrac12\\langle|S_1|^2 + |S_2|^2\\rangle,
        \\quad \\beta = \\frac{|\\langle S_1\\rangle|^2 + |\\langle S_2\\rangle|^2}
        {\\langle |S_1|^2 + |S_2|^2 \\rangle}

    Args:
        dist: number size distribution. n: particle index (complex or material).
        wavelength: vacuum wavelength in nm (scalar). theta: angles in radians, shape T.
        eta: volume fraction. n_env: host index (q uses the wavelength in the host).
        quadrature, n_max, rtol: as in jaxmie.ensemble.mean_optics.

    Returns:
        Decoupling with fields of shape T; form is <S11>(theta) / <S11>(0), and intensity is
        form [1 + beta (S(q(theta)) - 1)]. With the adaptive rule, error (shape T) is the
        estimated relative error of <S11> and of <S1>, <S2> (against sqrt(<S11>)).
    """
    theta = jnp.asarray(theta)
    dist.check()
    angles = jnp.concatenate([jnp.zeros((1,), theta.dtype), theta.ravel()])
    if n_max is None:
        r_max = concrete_value(dist.radius_range(quadrature)[1])
        wl = concrete_value(jnp.asarray(wavelength))
        if r_max is None or wl is None:
            raise ValueError("mie_decoupling: n_max=None needs concrete distribution "
                             "parameters and wavelength; pass a static n_max under jit")
        n_max = n_max_for(2 * math.pi * float(n_env) * float(r_max) / float(np.min(wl)))
    if not quadrature.adaptive or dist.given_nodes:
        return _mie_decoupling(dist, n, wavelength, theta, angles, eta, n_env, quadrature,
                               int(n_max))
    primal = concrete_distribution(dist, "mie_decoupling", wavelength, theta, n_env)
    count = angles.shape[0]

    def integrand(radii):
        s1, s2 = (np.asarray(v) for v in _mie_amplitudes(
            n, jnp.asarray(radii), wavelength, angles, n_env, int(n_max)))  # (K, T+1)
        return np.concatenate([s1.real, s1.imag, s2.real, s2.imag,
                               np.abs(s1) ** 2 + np.abs(s2) ** 2, radii[:, None]], axis=1)

    def scale(totals):
        intensity = np.abs(totals[4 * count:5 * count])
        amplitude = np.sqrt(intensity / 2 * totals[-1])
        return np.concatenate([np.tile(amplitude, 4), intensity, np.abs(totals[-1:])])

    k_max = 2 * 2 * math.pi * float(n_env) / float(concrete_value(jnp.asarray(wavelength)))
    rule, estimate = _adaptive(primal, integrand, scale, rtol, quadrature, k_max)
    out = _mie_decoupling(dist, n, wavelength, theta, angles, eta, n_env, rule, int(n_max))
    error = estimate[:5 * count].reshape(5, count).max(axis=0)[1:].reshape(theta.shape)
    return dataclasses.replace(out, error=jnp.asarray(error, out.form.dtype))


@functools.partial(jax.jit, static_argnames=("n_max",))
def _mie_amplitudes(n, radii, wavelength, angles, n_env, n_max):
    return amplitudes(Sphere(radius=radii, n=n), wavelength, angles, n_env, n_max)


@functools.partial(jax.jit, static_argnames=("quadrature", "n_max"))
def _mie_decoupling(dist, n, wavelength, theta, angles, eta, n_env, quadrature, n_max):
    radii, weights = dist.nodes(quadrature)
    s1, s2 = amplitudes(Sphere(radius=radii, n=n), wavelength, angles, n_env, n_max)  # (K, T+1)
    w = weights.astype(s1.dtype)
    mean_s1, mean_s2 = jnp.tensordot(w, s1, axes=(0, 0)), jnp.tensordot(w, s2, axes=(0, 0))
    intensity = special.abs_squared(s1) + special.abs_squared(s2)
    s11 = jnp.tensordot(weights, intensity, axes=(0, 0)) / 2
    form = (s11[1:] / s11[0]).reshape(theta.shape)
    coherent = special.abs_squared(mean_s1) + special.abs_squared(mean_s2)
    beta = (coherent[1:] / (2 * s11[1:])).reshape(theta.shape)
    q = scattering_vector(theta, wavelength, n_env)
    s = percus_yevick(q, 2 * jnp.sum(weights * radii), eta)
    return Decoupling(form=form, beta=beta, structure=s, intensity=form * (1 + beta * (s - 1)))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SuspensionFit:
    """Result of `fit_suspension`: fitted eta and polydispersity (scalars), the loss of each
    step (shape (steps,)) and the fitted model curve (shape of q)."""

    eta: jax.Array
    polydispersity: jax.Array
    losses: jax.Array
    model: jax.Array


def _squash(u, lo, hi):
    return lo + (hi - lo) * jax.nn.sigmoid(u)


def _unsquash(v, lo, hi):
    y = (v - lo) / (hi - lo)
    return jnp.log(y) - jnp.log1p(-y)


def fit_suspension(q, intensity, mean_radius, *, eta0: float = 0.2,
                   polydispersity0: float = 0.1, steps: int = 300,
                   learning_rate: float = 0.05, eta_range: tuple[float, float] = (1e-4, 0.55),
                   polydispersity_range: tuple[float, float] = (0.01, 0.5),
                   quadrature: Quadrature = Quadrature(nodes=64), optimizer: Any = None
                   ) -> SuspensionFit:
    """Fit volume fraction and Schulz polydispersity to a measured I(q) with optax.

    The model is `decoupling` with a Schulz distribution of the given number-mean radius,
    and the loss the mean squared difference of log intensities (scale-free across the
    decades of I(q)). Both parameters are kept inside their ranges by a sigmoid, so the
    optimiser works on unbounded real numbers. The whole loop is one jitted ``lax.scan``.

    Args:
        q: scattering vectors in 1/nm, shape (Q,). intensity: measured I(q)/<V^2>, shape (Q,)
            (normalise a measured curve by its low-q form-factor level).
        mean_radius: number-mean radius in nm (known, e.g. from dilute measurements).
        eta0, polydispersity0: starting values. steps: optimiser steps (static).
        learning_rate: Adam step size (ignored when ``optimizer`` is given).
        optimizer: any optax GradientTransformation; default optax.adam(learning_rate).

    Returns:
        SuspensionFit. Needs optax (``pip install optax``).
    """
    import optax  # optional dependency: only the fit needs it

    opt = optimizer if optimizer is not None else optax.adam(learning_rate)
    q, target = jnp.asarray(q), jnp.log(jnp.asarray(intensity))

    def unpack(u):
        return _squash(u[0], *eta_range), _squash(u[1], *polydispersity_range)

    def model(u):
        eta, p = unpack(u)
        return decoupling(q, Gamma.schulz(mean_radius, p), eta, quadrature=quadrature).intensity

    def loss(u):
        return jnp.mean((jnp.log(model(u)) - target) ** 2)

    @jax.jit
    def run(u):
        def step(carry, _):
            u, state = carry
            value, grad = jax.value_and_grad(loss)(u)
            updates, state = opt.update(grad, state, u)
            return (optax.apply_updates(u, updates), state), value

        (u, _), losses = jax.lax.scan(step, (u, opt.init(u)), None, length=steps)
        return u, losses

    u0 = jnp.array([_unsquash(eta0, *eta_range), _unsquash(polydispersity0,
                                                           *polydispersity_range)])
    u, losses = run(u0)
    eta, p = unpack(u)
    return SuspensionFit(eta=eta, polydispersity=p, losses=losses, model=model(u))

