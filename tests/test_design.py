"""jaxmie.design: bijections, multi-start with optax, objectives, discrete materials, Laplace.

Truth: exact inverses (round trips), synthetic targets with a known answer (the radius or the
material pair that generated them), and the analytic covariance (J^T J)^-1 of linear least
squares.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmie as jm
from jaxmie import design

WL = jnp.linspace(450.0, 900.0, 16)
N_MAX = 10


def _shell(r_shell):
    return jm.CoreShell(r_core=40.0, r_shell=r_shell, n_core=1.45, n_shell=0.2 + 3.0j)


# ------------------------------------------------------------------ bijections

@pytest.mark.parametrize("bound, x", [
    (design.Bounded(1.0, 100.0), jnp.array([1.001, 2.0, 50.0, 99.0, 99.999])),
    (design.Bounded(jnp.array([0.0, -3.0]), jnp.array([1.0, 5.0])), jnp.array([0.3, 4.9])),
    (design.Positive(), jnp.array([1e-6, 0.5, 3.0, 80.0, 1e3])),
    (design.Positive(lo=10.0), jnp.array([10.01, 11.0, 300.0])),
    (design.Unbounded(), jnp.array([-5.0, 0.0, 7.0])),
])
def test_round_trip_and_finite_gradients(bound, x):
    u = design.to_unconstrained(x, bound)
    back = design.from_unconstrained(u, bound)
    np.testing.assert_allclose(back, x, rtol=1e-12, atol=0)
    np.testing.assert_allclose(design.to_unconstrained(back, bound), u, rtol=1e-9, atol=1e-9)
    # gradients of both directions are finite and positive inside the bounds
    for f, arg in ((bound.forward, u), (bound.inverse, x)):
        g = jax.vmap(jax.grad(lambda v, f=f: f(v).sum()))(arg)
        assert np.all(np.isfinite(g)) and np.all(g > 0)


def test_bounds_on_pytrees_jit_vmap():
    params = {"r": jnp.array([[20.0, 60.0], [30.0, 90.0]]), "k": jnp.array([0.01, 0.2]),
              "free": jnp.array([-1.0, 2.0])}
    bounds = {"r": design.Bounded(10.0, 100.0), "k": design.Positive(), "free": None}
    u = jax.jit(design.to_unconstrained)(params, bounds)
    np.testing.assert_array_equal(u["free"], params["free"])
    back = jax.vmap(design.from_unconstrained, in_axes=(0, None))(u, bounds)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12), back, params)
    with pytest.raises(ValueError, match="lo < hi"):
        design.Bounded(5.0, 1.0)
    starts = design.uniform_starts(jax.random.key(1), {"a": design.Bounded(2.0, 3.0),
                                                       "b": design.Bounded(jnp.zeros(3), 1.0)}, 7)
    assert starts["a"].shape == (7,) and starts["b"].shape == (7, 3)
    assert np.all((starts["a"] > 2) & (starts["a"] < 3))


# ------------------------------------------------------------------ multi-start

def test_multi_start_recovers_shell_radius(capsys):
    target = jm.efficiencies(_shell(55.0), WL).q_ext
    objective = design.spectrum_objective("q_ext", WL, target, n_max=N_MAX)
    bounds = {"r_shell": design.Bounded(42.0, 70.0)}
    init = {"r_shell": jnp.linspace(43.0, 69.0, 8)}
    adam = optax.adam(optax.exponential_decay(0.1, 100, 0.3))
    def loss(p):
        return objective(_shell(p["r_shell"]))

    res = design.multi_start(loss, init, adam, 300, bounds=bounds, tol=1e-16, check_every=100,
                             verbose=True)
    assert res.loss.shape == (8,) and res.params["r_shell"].shape == (8,)
    assert np.all(np.diff(res.loss) >= 0)                       # sorted, best first
    assert abs(float(res.best["r_shell"]) - 55.0) < 1e-3
    assert sorted(np.asarray(res.order).tolist()) == list(range(8))
    assert res.history.shape[1] == 8
    out = capsys.readouterr().out
    assert "multi_start: step" in out
    # silent by default
    design.multi_start(loss, init, adam, 5, bounds=bounds)       # reuses the compiled step
    assert capsys.readouterr().out == ""


def test_multi_start_lbfgs_and_early_stopping():
    # a bounded quadratic with a pytree of parameters: minimum at a=0.3, b=(2, 5)
    def loss(p):
        return (p["a"] - 0.3) ** 2 + jnp.sum((p["b"] - jnp.array([2.0, 5.0])) ** 2 * 3.0)

    bounds = {"a": design.Bounded(0.0, 1.0), "b": design.Positive()}
    init = {"a": jnp.array([0.1, 0.9, 0.5]), "b": jnp.array([[1.0, 1.0], [9.0, 0.1], [3, 3.]])}
    res = design.multi_start(loss, init, optax.lbfgs(), 100, bounds=bounds, tol=1e-14,
                             check_every=5)
    np.testing.assert_allclose(res.params["a"], 0.3, atol=1e-8)
    np.testing.assert_allclose(res.params["b"], jnp.array([[2.0, 5.0]] * 3), atol=1e-8)
    assert res.steps < 100                                       # stopped early
    assert np.all(res.loss < 1e-14)


def test_multi_start_per_start_data_and_errors():
    targets = jnp.array([1.0, 2.0, 3.0])
    res = design.multi_start(lambda p, t: (p - t) ** 2, jnp.zeros(3), optax.sgd(0.4), 60,
                             data=targets)
    np.testing.assert_allclose(res.params[jnp.argsort(res.order)], targets, atol=1e-8)
    with pytest.raises(ValueError, match="leading axis"):
        design.multi_start(lambda p: p["a"] + p["b"].sum(),
                           {"a": jnp.zeros(3), "b": jnp.zeros((4, 2))}, None, 2)


# ------------------------------------------------------------------ objectives

def test_least_squares_rosenbrock_from_every_start():
    # Rosenbrock's residuals (10 (y - x^2), 1 - x): the minimum (1, 1) is known exactly.
    residual = lambda p: jnp.stack([10 * (p["y"] - p["x"] ** 2), 1 - p["x"]])
    starts = {"x": jnp.array([-1.2, 0.0, 2.0, -3.0]), "y": jnp.array([1.0, 3.0, -2.0, 5.0])}
    params, loss = design.least_squares(residual, starts, steps=60)
    np.testing.assert_allclose(params["x"], 1.0, atol=1e-10)
    np.testing.assert_allclose(params["y"], 1.0, atol=1e-10)
    assert np.all(np.asarray(loss) < 1e-20)


def test_least_squares_noisy_mie_fit_matches_scipy_and_stays_in_bounds():
    """A noisy Q_sca spectrum of a core-shell: the bounded, batched LM optimum equals SciPy's
    least_squares on the same residuals (an independent optimiser) to 1e-7, from starts
    in the optimum's basin; a box that excludes the optimum keeps every iterate inside."""
    from scipy.optimize import least_squares as scipy_least_squares

    truth = jm.efficiencies(_shell(55.0), WL, n_max=N_MAX).q_sca
    noisy = truth * (1 + 0.01 * jax.random.normal(jax.random.key(3), truth.shape))

    def residual(p, target):
        return jm.efficiencies(_shell(p["r_shell"]), WL, n_max=N_MAX).q_sca - target

    bounds = {"r_shell": design.Bounded(45.0, 70.0)}
    starts = {"r_shell": jnp.array([51.0, 55.0, 60.0])}  # one basin (47 nm ends at 70 nm)
    targets = jnp.broadcast_to(noisy, (3, *noisy.shape))
    params, loss = design.least_squares(residual, starts, targets, bounds=bounds, steps=40)

    def scipy_residual(v):
        return np.asarray(residual({"r_shell": v[0]}, noisy))

    def scipy_jacobian(v):
        return np.asarray(jax.jacfwd(residual)({"r_shell": v[0]}, noisy)["r_shell"])[:, None]

    scipy_fit = scipy_least_squares(scipy_residual, x0=[55.0], jac=scipy_jacobian, xtol=1e-15,
                                    ftol=1e-15, gtol=1e-15)
    np.testing.assert_allclose(params["r_shell"], scipy_fit.x[0], rtol=1e-7)
    np.testing.assert_allclose(loss, np.mean(scipy_fit.fun ** 2), rtol=1e-7)

    narrow = {"r_shell": design.Bounded(40.0, 50.0)}  # the optimum (~55 nm) lies outside
    inside, inside_loss = design.least_squares(residual, {"r_shell": jnp.array([42.0, 48.0])},
                                     targets[:2], bounds=narrow, steps=40)
    r = np.asarray(inside["r_shell"])
    # the sigmoid saturates to the bound itself in float64: inside the closed box
    assert np.all((r >= 40.0) & (r <= 50.0)) and np.all(np.isfinite(inside_loss))
    assert r[1] > 49.9  # from 48 nm downhill to the bound nearest the optimum


def test_objectives():
    theta = jnp.linspace(0.0, jnp.pi, 5)

    @jax.jit
    def evaluate(r):
        p = _shell(r)
        q = jm.efficiencies(p, WL, n_max=N_MAX)
        s11 = jm.mueller_matrix(p, WL, theta, n_max=N_MAX).s11
        ours = (design.efficiency_objective("q_sca", WL, n_max=N_MAX)(p),
                design.efficiency_objective("q_abs", WL, maximize=False, n_max=N_MAX)(p),
                design.kerker_objective(WL, n_max=N_MAX)(p),
                design.kerker_objective(WL, mode="log_ratio", n_max=N_MAX)(p),
                design.spectrum_objective("s11", WL, s11, theta=theta, n_max=N_MAX)(p),
                design.spectrum_objective("q_ext", WL, q.q_ext + 0.1, n_max=N_MAX)(p))
        direct = (-jnp.mean(q.q_sca), jnp.mean(q.q_abs), jnp.mean(q.q_back - q.q_fwd),
                  jnp.mean(jnp.log(q.q_back / q.q_fwd)), 0.0, 0.01)
        return ours, direct

    ours, direct = evaluate(55.0)
    np.testing.assert_allclose(jnp.array(ours), jnp.array(direct), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(design.spectrum_mse(jnp.array([1.0, 3.0]), jnp.array([0., 0.]),
                                                   weights=jnp.array([2.0, 0.0])), 1.0)
    np.testing.assert_allclose(design.mean_relative_error(jnp.array([1.1, 1.8]),
                                                          jnp.array([1.0, 2.0])), 0.1)
    with pytest.raises(ValueError, match="field must be one of"):
        design.efficiency_objective("q_nope", WL)(_shell(55.0))
    with pytest.raises(ValueError, match="mode"):
        design.kerker_objective(WL, mode="ratio")


# ------------------------------------------------------------------ discrete materials

MATERIALS = ("Au", "Ag", "SiO2", "TiO2")


@pytest.fixture(scope="module")
def table():
    return jm.materials.stack([jm.materials.get(m) for m in MATERIALS], WL, names=MATERIALS)


def _core_shell(params, mats):
    return jm.CoreShell(r_core=params["r_core"], r_shell=params["r_core"] + params["t"],
                        n_core=mats[0], n_shell=mats[1])


def test_enumerate_materials_picks_true_pair(table):
    truth = {"r_core": 45.0, "t": 12.0}
    target = jax.jit(lambda p: jm.efficiencies(_core_shell(p, (table.material(3), table.material(
        0))), WL, n_max=N_MAX).q_sca)(truth)                            # TiO2 core, Au shell

    def loss(params, mats):
        q = jm.efficiencies(_core_shell(params, mats), WL, n_max=N_MAX).q_sca
        return design.spectrum_mse(q, target) / jnp.mean(target ** 2)

    bounds = {"r_core": design.Bounded(30.0, 60.0), "t": design.Bounded(2.0, 30.0)}
    r_core, t = jnp.meshgrid(jnp.array([36.0, 45.0, 54.0]), jnp.array([6.0, 16.0, 26.0]))
    init = {"r_core": r_core.ravel(), "t": t.ravel()}                 # 9 starts
    adam = optax.adam(optax.exponential_decay(0.1, 100, 0.3))
    res = design.enumerate_materials(loss, table, init, adam, 120, bounds=bounds,
                                     check_every=60)
    assert res.choices.shape == (16, 2) and res.start_loss.shape == (16, 9)
    assert res.names[0] == ("TiO2", "Au")
    np.testing.assert_array_equal(res.choices[0], [3, 0])
    assert res.loss[0] < 1e-3 and res.loss[1] > 0.05
    np.testing.assert_allclose([res.params["r_core"][0], res.params["t"][0]], [45.0, 12.0],
                               atol=0.1)
    assert np.all(np.diff(res.loss) >= 0)


def test_enumerate_materials_choices(table):
    # a cheap loss: match the shell's index spectrum to Ag's, and a geometry to 2.0
    def loss(p, mats):
        return jnp.mean(jnp.abs(mats[1](WL) - table.index[1]) ** 2) + (p - 2.0) ** 2

    res = design.enumerate_materials(loss, table, jnp.array([0.5, 3.0]), optax.adam(0.1),
                                     100, choices=[[3], range(4)])
    assert res.names == (("TiO2", "Ag"),) + res.names[1:] and len(res.names) == 4
    assert {n[0] for n in res.names} == {"TiO2"}
    np.testing.assert_allclose(res.params[0], 2.0, atol=1e-2)
    with pytest.raises(ValueError, match="rows 0..3"):
        design.enumerate_materials(loss, table, jnp.zeros(2), None, 1, choices=[[4], [0]])


def test_softmax_mixture(table):
    onehot = jnp.array([0.0, 0.0, 30.0, 0.0])
    mixed = design.softmax_mixture(onehot, table, temperature=0.1)
    np.testing.assert_allclose(mixed(WL), table.index[2], rtol=1e-12)
    uniform = design.softmax_mixture(jnp.zeros(4), table)
    np.testing.assert_allclose(uniform(WL) ** 2, jnp.mean(table.index ** 2, axis=0),
                               rtol=1e-12)
    noisy = design.softmax_mixture(jnp.zeros(4), table, 0.5, key=jax.random.key(3))
    assert np.all(np.isfinite(np.asarray(noisy(WL))))

    def loss(logits):  # differentiable in the logits (through the mixed permittivity)
        return jnp.sum(jnp.abs(design.softmax_mixture(logits, table, 0.5)(WL)) ** 2)

    g = jax.grad(loss)(jnp.array([0.3, -0.2, 0.1, 0.0]))
    assert g.shape == (4,) and np.all(np.isfinite(g)) and np.any(g != 0)


def test_multi_start_key_and_step_do_not_depend_on_chunking():
    # a noisy quadratic whose target moves with the step: the same key gives the same run
    # whatever the check interval, and the reported losses are the noise-free ones
    def loss(p, *, step, key):
        noise = 0.0 if key is None else jax.random.normal(key, p.shape)
        return jnp.sum((p - 0.01 * step - noise) ** 2)

    runs = [design.multi_start(loss, jnp.zeros((3, 2)), optax.sgd(0.1), 20, key=jax.random.key(5),
                               check_every=c) for c in (3, 20)]
    np.testing.assert_array_equal(runs[0].params, runs[1].params)
    np.testing.assert_array_equal(runs[0].loss, runs[1].loss)
    np.testing.assert_allclose(runs[0].loss, jnp.sum((runs[0].params - 0.2) ** 2, -1),
                               rtol=1e-15)
    assert not np.allclose(runs[0].params[0], runs[0].params[1])   # one key per start


DIELECTRICS = ("SiO2", "Si3N4", "TiO2", "Si")


@pytest.mark.slow  # 25 s; the relaxation's gradients and enumeration stay in the default run
def test_annealed_gumbel_softmax_finds_the_enumerated_pair():
    # Si core (45 nm), Si3N4 shell (t = 20 nm): enumeration over the 16 pairs (thickness
    # optimised for each) is the exact answer. The relaxation optimises thickness and logits
    # together with Gumbel noise, temperature 1 -> 0.05; rounding (argmax) and polishing
    # the thickness with the chosen pair must reach the enumerated optimum. Measured: 6 of 8
    # starts choose Si/Si3N4 (the others TiO2/TiO2, enumeration's runner-up, a different
    # thickness basin); plain softmax (no noise) sends all 8 starts there.
    table = jm.materials.stack([jm.materials.get(m) for m in DIELECTRICS], WL,
                               names=DIELECTRICS)

    def loss(p, mats):
        q = jm.efficiencies(jm.CoreShell(r_core=45.0, r_shell=45.0 + p["t"], n_core=mats[0],
                                         n_shell=mats[1]), WL, n_max=N_MAX).q_sca
        return design.spectrum_mse(q, target) / jnp.mean(target ** 2)

    target = jm.efficiencies(jm.CoreShell(r_core=45.0, r_shell=65.0, n_core=table.material(3),
                                          n_shell=table.material(1)), WL, n_max=N_MAX).q_sca
    bounds = {"t": design.Bounded(15.0, 25.0)}
    starts = design.uniform_starts(jax.random.key(0), bounds, 8)
    adam = optax.adam(optax.exponential_decay(0.1, 100, 0.3))
    exact = design.enumerate_materials(loss, table, starts, adam, 120, bounds=bounds,
                                       check_every=60)
    assert exact.names[0] == ("Si", "Si3N4") and exact.loss[0] < 1e-9 and exact.loss[1] > 1e-2

    steps = 600
    temperature = optax.exponential_decay(1.0, steps, 0.05)

    def relaxed(p, *, step, key):
        return loss(p, design.relaxed_materials(p["logits"], table, temperature(step), key=key))

    init = {**starts, "logits": jnp.zeros((8, 2, 4))}
    # b2 = 0.99: the second-moment memory must forget the large early (hot) gradients
    res = design.multi_start(relaxed, init, optax.adam(0.1, b2=0.99), steps,
                             bounds={**bounds, "logits": None}, check_every=300,
                             key=jax.random.key(1))
    choices = jnp.argmax(res.params["logits"], axis=-1)               # (8, 2), hard design
    assert np.sum(np.all(choices == jnp.array([3, 1]), axis=1)) >= 5

    def hard(p, row):
        return loss(p, (table.material(row[0]), table.material(row[1])))

    polished = design.multi_start(hard, {"t": res.params["t"]}, adam, 200, bounds=bounds,
                                  check_every=100, data=choices)
    np.testing.assert_array_equal(choices[polished.order[0]], exact.choices[0])
    np.testing.assert_allclose(polished.loss[0], exact.loss[0], atol=1e-9)   # gap: 1e-2
    np.testing.assert_allclose(polished.best["t"], 20.0, atol=1e-3)


# ------------------------------------------------------------------ Laplace covariance

def test_laplace_linear_least_squares():
    rng = np.random.default_rng(0)
    jac = jnp.asarray(rng.normal(size=(20, 3)))
    y = jnp.asarray(rng.normal(size=20))
    p_hat = jnp.linalg.lstsq(jac, y)[0]
    params = {"a": p_hat[0], "bc": p_hat[1:]}

    def loss(p):
        v = jnp.concatenate([p["a"][None], p["bc"]])
        return 0.5 * jnp.sum((jac @ v - y) ** 2)

    expected = np.linalg.inv(np.asarray(jac.T @ jac))
    for mode in ("hessian", "forward"):
        lap = design.laplace_covariance(loss, params, mode=mode)
        np.testing.assert_allclose(lap.covariance, expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(lap.hessian, jac.T @ jac, rtol=1e-12)
        np.testing.assert_allclose(lap.std["bc"], np.sqrt(np.diag(expected))[1:], rtol=1e-10)
    with pytest.raises(ValueError, match="mode"):
        design.laplace_covariance(loss, params, mode="gauss-newton")


def test_laplace_noisy_mie_fit_within_three_sigma():
    # a silver-like sphere (the homogeneous case keeps the second-derivative compile short)
    def sphere(r):
        return jm.Sphere(radius=r, n=0.2 + 3.0j)

    sigma, r_true = 0.02, 60.0
    clean = jax.jit(lambda r: jm.efficiencies(sphere(r), WL, n_max=N_MAX).q_ext)(r_true)
    data = clean + sigma * jax.random.normal(jax.random.key(42), clean.shape)

    def loss(p):
        q = jm.efficiencies(sphere(p["r"]), WL, n_max=N_MAX).q_ext
        return 0.5 * jnp.sum(((q - data) / sigma) ** 2)

    bounds = {"r": design.Bounded(40.0, 80.0)}
    init = {"r": jnp.linspace(45.0, 75.0, 4)}
    adam = optax.adam(optax.exponential_decay(0.1, 100, 0.3))
    res = design.multi_start(loss, init, adam, 300, bounds=bounds, check_every=150)
    lap = design.laplace_covariance(loss, res.best, mode="forward")  # 1 parameter
    std = float(lap.std["r"])
    assert lap.covariance.shape == (1, 1) and 0 < std < 1.0
    assert abs(float(res.best["r"]) - r_true) < 3 * std
    # converged: over the last 150 steps chi^2 / 2 moved far less than 1/2 (one sigma)
    best = res.history[:, res.order[0]]
    assert abs(float(best[-1] - best[-2])) < 0.01
