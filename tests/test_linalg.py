"""jaxmie._linalg.small_solve against LAPACK (NumPy, and jnp.linalg.solve's derivatives)."""

import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmie._linalg import small_solve


def _system(seed, k=12, c=3):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(k, k)) + 1j * rng.normal(size=(k, k))
    a[0, 0] = 1e-3  # forces a row exchange at the first step
    return a, rng.normal(size=(k, c)) + 1j * rng.normal(size=(k, c))


def test_against_numpy_and_batched():
    a, b = _system(0)
    np.testing.assert_allclose(small_solve(jnp.asarray(a), jnp.asarray(b)),
                               np.linalg.solve(a, b), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(small_solve(jnp.asarray(a.real), jnp.asarray(b[:, 0].real)),
                               np.linalg.solve(a.real, b[:, 0].real), rtol=1e-12, atol=1e-12)
    pairs = [_system(s) for s in range(1, 9)]
    a8, b8 = (jnp.asarray(np.stack(v)) for v in zip(*pairs))
    np.testing.assert_allclose(jax.jit(jax.vmap(small_solve))(a8, b8),
                               np.linalg.solve(np.asarray(a8), np.asarray(b8)),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("derivative", [pytest.param(jax.grad, marks=pytest.mark.slow),
                                        jax.jacfwd,
                                        pytest.param(jax.hessian, marks=pytest.mark.slow)])
def test_derivatives_match_lapack_solve(derivative):
    a, b = (jnp.asarray(v) for v in _system(3, k=6, c=2))

    def loss(solver, scale):
        x = solver(a * scale[0], b * scale[1])
        return jnp.sum(jnp.abs(x) ** 2)

    scale = jnp.array([1.1, 0.9])
    np.testing.assert_allclose(derivative(lambda s: loss(small_solve, s))(scale),
                               derivative(lambda s: loss(jnp.linalg.solve, s))(scale),
                               rtol=1e-10)


@pytest.mark.slow
def test_rfa_mixture_vmapped_over_curves_does_not_hang():
    """The jaxlib 0.10 deadlock this module avoids: RFA mixture vmapped over 8 curves."""
    script = textwrap.dedent("""
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        import jaxmie as jm
        q = jnp.linspace(3.0, 13.0, 100)
        f = jax.jit(jax.vmap(lambda e: jm.suspension.mixture(
            q, jm.distributions.Normal(mean_radius=0.5, std=0.025), e,
            quadrature=jm.distributions.Quadrature(nodes=24)).intensity))
        print(bool(jnp.all(jnp.isfinite(f(jnp.full(8, 0.05))))))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, check=True)
    assert out.stdout.strip() == "True"
