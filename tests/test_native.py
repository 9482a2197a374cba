"""The native CPU kernel (jaxmie._native) against the JAX implementation it replaces on CPU.

Every other test exercises the native kernel where it is available (it is the CPU default);
the JAX implementation is what GPUs and TPUs run. Here the two are held to rounding-level
agreement in the stress regimes of the solver, derivatives included.
"""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmie as jm
from jaxmie import _native, _observables, _series

pytestmark = pytest.mark.skipif(not _native.available(), reason="no C++ compiler")

# (name, radii in nm, indices inner to outer, wavelength in nm)
CASES = [
    ("small sphere", [0.05], [1.5 + 0.01j], 500.0),
    ("sphere x = 100, m = 1.33", [7957.7], [1.33 + 1e-8j], 500.0),
    ("sphere x = 2e4", [1.5915e6], [1.5 + 0.001j], 500.0),
    ("strong absorption |Im mx| = 1000", [79.6], [10 + 10j], 50.0),
    ("m -> 1", [300.0], [1.0 + 1e-12j], 500.0),
    ("lossless sphere", [150.0], [2.5], 450.0),
    ("gold shell on silica", [60.0, 70.0], [1.45, 0.2 + 3.1j], 700.0),
    ("thin metal shell", [50.0, 50.5], [1.5, 0.05 + 4.0j], 600.0),
    ("zero-thickness shell", [80.0, 80.0], [1.5 + 0.1j, 3.0 + 0.5j], 550.0),
    ("metal core", [30.0, 90.0], [0.3 + 5.0j, 1.6], 650.0),
    ("large core-shell x = 500", [30000.0, 39800.0], [1.2 + 0.01j, 1.6 + 0.001j], 500.0),
    ("three layers", [40.0, 70.0, 100.0], [2.0 + 0.1j, 1.4, 0.1 + 3.0j], 500.0),
    ("four layers", [20.0, 40.0, 60.0, 80.0], [1.5, 3.5 + 0.01j, 1.3, 2.2 + 0.2j], 420.0),
]


def _inputs(radii, indices, wavelength):
    x = 2 * np.pi * np.asarray(radii) / wavelength
    return jnp.asarray(x), jnp.asarray(indices, dtype=complex)


def _both(x, m, n_max):
    return _native.series(x, m, n_max), _series._jax_series(x, m, n_max)


@pytest.mark.parametrize("name,radii,indices,wavelength", CASES, ids=[c[0] for c in CASES])
def test_series_matches_jax_implementation(name, radii, indices, wavelength):
    x, m = _inputs(radii, indices, wavelength)
    n_max = jm.n_max_for(float(x[-1]))
    native, reference = jax.jit(_both, static_argnums=2)(x, m, n_max)
    # (a, b), then the absorbed parts, each pair relative to its largest value: orders past
    # the particle's truncation, and b_n of tiny spheres (~x^2 a_n), carry only the absolute
    # rounding of the whole series (in either implementation).
    for pair in ((0, 1), (2, 3)):
        want = np.stack([np.asarray(reference[i]) for i in pair])
        got = np.stack([np.asarray(native[i]) for i in pair])
        assert np.all(np.isfinite(got))
        np.testing.assert_array_less(np.abs(got - want), 1e-12 * np.max(np.abs(want)) + 1e-300)


@pytest.mark.parametrize("name,radii,indices,wavelength",
                         [c for c in CASES if len(c[1]) <= 2 and c[1][-1] < 1e4],
                         ids=[c[0] for c in CASES if len(c[1]) <= 2 and c[1][-1] < 1e4])
def test_first_derivatives_match_jax_implementation(name, radii, indices, wavelength):
    x, m = _inputs(radii, indices, wavelength)
    n_max = jm.n_max_for(float(x[-1]))
    split = lambda f: lambda x, mr, mi: f(x, mr + 1j * mi, n_max)
    native = split(_series.series)  # on the CPU: the native kernel and its Jacobian
    reference = split(_series._jax_series)
    args = (x, jnp.real(m), jnp.imag(m))
    got = jax.jit(jax.jacfwd(native, argnums=(0, 1, 2)))(*args)
    want = jax.jit(jax.jacfwd(reference, argnums=(0, 1, 2)))(*args)
    for pair in ((0, 1), (2, 3)):  # (a, b), then the absorbed parts, as above
        for arg in range(3):
            g = np.stack([np.asarray(got[i][arg]) for i in pair])
            w = np.stack([np.asarray(want[i][arg]) for i in pair])
            assert np.all(np.isfinite(g))
            np.testing.assert_array_less(np.abs(g - w), 1e-10 * np.max(np.abs(w)) + 1e-300)


def _efficiencies(sums_of):
    """(q_ext, q_sca, q_abs, q_back, q_fwd, g, q_pr) from sums_of(x, m, n_max), shape (7,)."""

    def efficiencies(x, m_re, m_im, n_max):
        q = _observables._from_sums(sums_of(x, m_re + 1j * m_im, n_max))
        return jnp.stack([q.q_ext, q.q_sca, q.q_abs, q.q_back, q.q_fwd, q.g, q.q_pr])

    return efficiencies


native_efficiencies = _efficiencies(_series.efficiency_sums)  # the CPU default: native
reference_efficiencies = _efficiencies(
    lambda x, m, n_max: _series._unpack(_series._jax_efficiency_sums(x, m, n_max)))
# each case compiles its own gradient (15-20 s on 2 cores): two run with --runslow only
_SLOW_DERIVATIVES = {"thin metal shell", "three layers"}
DERIVATIVE_CASES = [pytest.param(*c, id=c[0],
                                 marks=[pytest.mark.slow] * (c[0] in _SLOW_DERIVATIVES))
                    for c in CASES if c[1][-1] < 1e4]


@pytest.mark.parametrize("name,radii,indices,wavelength", DERIVATIVE_CASES)
def test_fused_efficiencies_and_gradients_match_jax_implementation(name, radii, indices,
                                                                   wavelength):
    """The fused kernel (series and order sums, first derivatives accumulated order by order)
    against the JAX series and sums: values to 1e-12, each efficiency's derivatives to 1e-10
    of its largest one."""
    x, m = _inputs(radii, indices, wavelength)
    n_max = jm.n_max_for(float(x[-1]))
    args = (x, jnp.real(m), jnp.imag(m))
    got = jax.jit(native_efficiencies, static_argnums=3)(*args, n_max)
    want = jax.jit(reference_efficiencies, static_argnums=3)(*args, n_max)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
    jac = lambda f: jax.jit(jax.jacrev(f, argnums=(0, 1, 2)), static_argnums=3)
    got = np.concatenate(jac(native_efficiencies)(*args, n_max), axis=1)  # (7, 3L)
    want = np.concatenate(jac(reference_efficiencies)(*args, n_max), axis=1)
    assert np.all(np.isfinite(got))
    if name in ("small sphere", "m -> 1"):
        # g = (asymmetry sum) / Q_sca, both ~x^6 or ~|m - 1|^2: its derivatives carry the
        # ~1e-9 relative error of b_1 at x = 6e-4 (either implementation), and cancel to
        # rounding noise along m for m = 1 + 1e-12 i, where g does not depend on |m - 1|.
        got, want = np.delete(got, 5, axis=0), np.delete(want, 5, axis=0)
    scale = np.broadcast_to(np.max(np.abs(want), axis=1, keepdims=True), want.shape)
    np.testing.assert_array_less(np.abs(got - want), 1e-10 * scale + 1e-300)


@pytest.mark.parametrize("n_layers", [2, pytest.param(4, marks=pytest.mark.slow)])
def test_random_particles_agree_within_the_documented_bound(n_layers):
    """The documented guarantee (README, Speed): on any particle the native kernel and the
    JAX implementation give every efficiency to within 2e-11 of Q_ext and g to within 1e-12.
    Measured over 8,000 random particles of 1-4 layers (x 0.01-100, dielectric and metal
    layers, k down to 1e-8): median 2e-16, worst 5.4e-12 (Q_back, three layers)."""
    rng = np.random.default_rng(n_layers)
    size = (300, n_layers)
    x = 10 ** rng.uniform(-2, 1.3, size[0])[:, None] * np.sort(rng.uniform(0.05, 1, size), 1)
    x[:, -1] = x.max(axis=1)
    metal = rng.uniform(size=size) < 0.3
    m = np.where(metal, rng.uniform(0.05, 1, size) + 1j * rng.uniform(1, 10, size),
                 rng.uniform(1, 4, size) + 1j * 10 ** rng.uniform(-8, 0, size))
    n_max = jm.n_max_for(float(x.max()))
    x, m = jnp.asarray(x), jnp.asarray(m)
    native = _series._unpack(_series._scaled_native_sums(_native.efficiency_sums(x, m, n_max),
                                                         x[:, -1]))
    jax_path = _series._unpack(jax.jit(_series._jax_efficiency_sums, static_argnums=2)(
        x, m, n_max))

    def efficiencies(s):
        return np.stack([s.sca, s.abs, s.sca + s.abs, np.abs(s.back) ** 2, np.real(s.fwd)])

    q_ext = np.asarray(jax_path.sca + jax_path.abs)
    difference = np.abs(efficiencies(native) - efficiencies(jax_path)) / q_ext
    assert np.max(difference) < 2e-11, np.unravel_index(np.argmax(difference), difference.shape)
    g = lambda s: np.asarray(s.g_sca / s.sca)
    np.testing.assert_array_less(np.abs(g(native) - g(jax_path)), 1e-12)


# (radii in nm, indices inner to outer, wavelength in nm): a sphere, a dielectric and a
# thin-metal-shell core-shell, and three layers with a metal outside.
SCATTNLAY_GRADIENT_CASES = [
    ([120.0], [1.6 + 0.02j], 600.0),
    ([60.0, 95.0], [1.5 + 0.01j, 2.0 + 0.05j], 550.0),
    ([50.0, 56.0], [1.45 + 0.0j, 0.2 + 3.1j], 700.0),
    ([40.0, 70.0, 100.0], [2.0 + 0.1j, 1.4 + 0.0j, 0.1 + 3.0j], 500.0),
]


@pytest.mark.parametrize("radii,indices,wavelength", SCATTNLAY_GRADIENT_CASES,
                         ids=["sphere", "core-shell", "thin gold shell", "three layers"])
def test_gradients_match_central_differences_of_scattnlay(radii, indices, wavelength):
    """The native Jacobian kernel (reverse mode through efficiencies) against an independent
    code: Richardson-extrapolated central differences of scattnlay's Q_ext, Q_sca, Q_abs,
    Q_back, g with respect to every radius and the real and imaginary part of every index
    (steps 1e-4 and 5e-5 relative: truncation O(h^4), rounding ~1e-14 / 1e-4), to 1e-9 of
    each quantity's largest derivative."""
    scattnlay = pytest.importorskip("scattnlay").scattnlay
    radii, indices = np.asarray(radii), np.asarray(indices)
    k = 2 * np.pi / wavelength

    def reference(r, n_re, n_im):
        _, q_ext, q_sca, q_abs, q_back, _, g, *_ = scattnlay(k * r, n_re + 1j * n_im)
        return np.array([q_ext, q_sca, q_abs, q_back, g])

    def efficiencies(r, n_re, n_im):
        q = jm.efficiencies(jm.Multilayer(radii=r, n=n_re + 1j * n_im), wavelength, n_max=16)
        return jnp.stack([q.q_ext, q.q_sca, q.q_abs, q.q_back, q.g])

    args = (radii, indices.real, indices.imag)
    got = jax.jit(jax.jacrev(efficiencies, argnums=(0, 1, 2)))(*map(jnp.asarray, args))
    got = np.concatenate([np.asarray(j) for j in got], axis=1)  # (5, 3L)
    np.testing.assert_allclose(jax.jit(efficiencies)(*map(jnp.asarray, args)),
                               reference(*args), rtol=1e-12)
    def central_difference(arg, layer, h):
        plus, minus = [a.copy() for a in args], [a.copy() for a in args]
        plus[arg][layer] += h
        minus[arg][layer] -= h
        return (reference(*plus) - reference(*minus)) / (2 * h)

    want = []
    for arg in range(3):
        for layer in range(radii.size):
            h = 1e-4 * max(abs(args[arg][layer]), 1.0)
            # Richardson: the O(h^2) error cancels (a 6 nm gold shell curves on its own
            # thickness, which a plain central difference would feel at 1e-6).
            coarse, fine = central_difference(arg, layer, h), central_difference(arg, layer,
                                                                                 h / 2)
            want.append((4 * fine - coarse) / 3)
    want = np.stack(want, axis=1)
    scale = np.max(np.abs(want), axis=1, keepdims=True)  # each quantity's largest derivative
    np.testing.assert_array_less(np.abs(got - want), 1e-9 * np.broadcast_to(scale, want.shape))


def _objective(r_core, r_shell, n_shell_imag, wavelength):
    particle = jm.CoreShell(r_core=r_core, r_shell=r_shell, n_core=1.5 + 0.01j,
                            n_shell=2.0 + 1j * n_shell_imag)
    q = jm.efficiencies(particle, wavelength, n_max=8)
    return jnp.sum(q.q_sca * q.g + q.q_abs)


def test_gradient_and_hessian_through_efficiencies():
    """Reverse mode uses the kernel's Jacobian; second derivatives the JAX implementation.
    Both checked against central differences (of the native forward and gradient)."""
    wavelength = jnp.linspace(450.0, 750.0, 3)
    args = (jnp.asarray(60.0), jnp.asarray(95.0), jnp.asarray(0.05))
    value = jax.jit(_objective)
    grad = jax.jit(jax.grad(_objective, argnums=(0, 1, 2)))
    hessian = jax.jit(jax.hessian(_objective, argnums=(0, 1, 2)))(*args, wavelength)
    gradient = grad(*args, wavelength)
    for i, h in enumerate((1e-3, 1e-3, 1e-5)):
        shifted = lambda s: [a + s * h if k == i else a for k, a in enumerate(args)]
        difference = (value(*shifted(1), wavelength) - value(*shifted(-1), wavelength)) / (2 * h)
        np.testing.assert_allclose(gradient[i], difference, rtol=1e-7)
        g_plus, g_minus = grad(*shifted(1), wavelength), grad(*shifted(-1), wavelength)
        for k in range(3):
            np.testing.assert_allclose(hessian[k][i], (g_plus[k] - g_minus[k]) / (2 * h),
                                       rtol=1e-6, atol=1e-9 * abs(float(hessian[k][k])))


def test_results_do_not_depend_on_batch_neighbours():
    """The kernels advance particles in lanes (8 forward, 4 with derivatives), a remainder in
    one more group padded with copies; each lane has its own recurrence start, so a particle's
    result is bitwise the same alone as anywhere in a batch, values and derivatives."""
    rng = np.random.default_rng(3)
    x = jnp.asarray(np.sort(rng.uniform(0.1, 30.0, (11, 2)), axis=1))
    m = jnp.asarray(rng.uniform(1.1, 3.0, (11, 2)) + 1j * rng.uniform(0, 0.5, (11, 2)))
    n_max = 40

    def every_kernel(x, m):
        return [*_native.series(x, m, n_max), *_native.series_jacobian(x, m, n_max),
                _native.efficiency_sums(x, m, n_max),
                *_native.efficiency_sums_jacobian(x, m, n_max)]

    batched = every_kernel(x, m)
    for i in range(11):
        alone = every_kernel(x[i], m[i])
        for b, a in zip(batched, alone, strict=True):
            np.testing.assert_array_equal(b[i], a)


def test_vmap_of_efficiencies_matches_batch():
    radii = jnp.linspace(50.0, 200.0, 5)
    wavelength = jnp.linspace(400.0, 800.0, 9)
    one = lambda r: jm.efficiencies(jm.Sphere(radius=r, n=1.5 + 0.02j), wavelength,
                                    n_max=24).q_ext
    vmapped = jax.vmap(one)(radii)
    batched = jm.efficiencies(jm.Sphere(radius=radii, n=1.5 + 0.02j), wavelength, n_max=24)
    np.testing.assert_array_equal(vmapped, batched.q_ext)


def test_lossless_absorption_is_exactly_zero():
    q = jm.efficiencies(jm.CoreShell(r_core=40.0, r_shell=90.0, n_core=3.5, n_shell=1.45),
                        jnp.linspace(400.0, 800.0, 33))
    assert np.all(np.asarray(q.q_abs) == 0.0)


def _run_python(code, **env):
    environment = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                          text=True, env=environment, timeout=600)


FALLBACK = """
import jax, jaxmie as jm
jax.config.update("jax_enable_x64", True)
from jaxmie import _native
q = jm.efficiencies(jm.Sphere(radius=100.0, n=1.5), 500.0)
print(_native.available(), float(q.q_sca))
"""


def test_disabled_kernel_falls_back_to_jax():
    native = jm.efficiencies(jm.Sphere(radius=100.0, n=1.5), 500.0).q_sca
    result = _run_python(FALLBACK, JAXMIE_NATIVE="0")
    available, q_sca = result.stdout.split()
    assert available == "False"
    np.testing.assert_allclose(float(q_sca), float(native), rtol=1e-13)


def test_install_without_a_compiler_builds_nothing_and_says_so(tmp_path, monkeypatch, capsys):
    """The install-time build (hatch_build.py -> _build.build) without a C++ compiler
    builds no library and says why; the loader then uses the JAX implementation quietly
    (tests/test_native_files.py::test_nothing_installed_is_quiet)."""
    from jaxmie._native import _build

    monkeypatch.setattr(_build, "HERE", tmp_path)
    assert _build.build(compiler="/nonexistent/c++") == []
    assert "no C++ compiler" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
