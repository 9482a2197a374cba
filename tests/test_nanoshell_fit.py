"""Fitting a noisy extinction spectrum of SiO2/Au nanoshells recovers the true geometry
within the Laplace (0.5 chi^2 Hessian) uncertainty, and that uncertainty matches the
Monte-Carlo scatter of fitted values. Fast version of notebooks/nanoshell_fit.ipynb."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmie as jm
from jaxmie import design

KEYS = ("r_core", "r_shell", "scale")


# ~70 s on 2 cores; the Laplace coverage is also checked by test_design's noisy Mie fit
@pytest.mark.slow
def test_nanoshell_fit_within_laplace_sigma():
    au, sio2 = jm.materials.get("Au"), jm.materials.get("SiO2")
    wavelength = jnp.linspace(500.0, 1000.0, 24)

    def model(p):
        particle = jm.CoreShell(r_core=p["r_core"], r_shell=p["r_shell"], n_core=sio2,
                                n_shell=au)
        return p["scale"] * jm.efficiencies(particle, wavelength, n_env=1.33, n_max=10).q_ext

    true = {"r_core": jnp.array(60.0), "r_shell": jnp.array(75.0), "scale": jnp.array(1.0)}
    clean = model(true)
    sigma = 0.01 * float(clean.max())
    bounds = {"r_core": design.Bounded(40.0, 70.0), "r_shell": design.Bounded(70.0, 95.0),
              "scale": design.Bounded(0.5, 2.0)}

    def loss(p, y):                                   # 0.5 chi^2 = negative log-likelihood
        return 0.5 * jnp.sum(((model(p) - y) / sigma) ** 2)

    # realisation 0 is "the measurement"; 1..8 are the Monte-Carlo check. All fitted in one
    # vmapped multi_start call (2 starts each), the spectrum passed per start as data.
    n_real, n_starts = 9, 2
    spectra = clean + sigma * jax.random.normal(jax.random.PRNGKey(0), (n_real, clean.size))
    init = design.uniform_starts(jax.random.PRNGKey(1), bounds, n_real * n_starts)
    res = design.multi_start(loss, init, optax.adam(0.05), 200, bounds=bounds, tol=1e-6,
                             check_every=50, data=jnp.repeat(spectra, n_starts, axis=0))
    unsort = jnp.argsort(res.order)
    losses = res.loss[unsort].reshape(n_real, n_starts)
    pick = jnp.argmin(losses, axis=1)
    fits = {k: v[unsort].reshape(n_real, n_starts)[jnp.arange(n_real), pick]
            for k, v in res.params.items()}
    # chi^2 / dof near 1 at every realisation's optimum: the fits converged
    chi2_dof = 2 * losses.min(axis=1) / (clean.size - 3)
    assert np.all(np.asarray(chi2_dof) < 2.5), chi2_dof

    best = {k: v[0] for k, v in fits.items()}
    lap = design.laplace_covariance(lambda p: loss(p, spectra[0]), best, mode="forward")
    for k in KEYS:
        std = float(lap.std[k])
        assert np.isfinite(std) and std > 0, (k, std)
        assert abs(float(best[k] - true[k])) < 3 * std, (k, float(best[k]), std)
        ratio = float(jnp.std(fits[k][1:], ddof=1)) / std
        assert 0.5 < ratio < 2.0, (k, ratio)
