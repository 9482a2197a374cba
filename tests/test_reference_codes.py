"""jaxmie against the reference tables in tests/reference/ (see its README for provenance).

The stored values come from a 60+-digit mpmath solver built on a different algorithm
(Miller-normalised psi_n, upward chi_n, field amplitudes matched layer by layer) and are kept
only where at least one independent double-precision code (scattnlay, treams, miepython)
agrees with it to 1e-10. Error metrics are those of generate.py: relative for Q_ext, Q_sca,
Q_back, Q_fwd; |dQ_abs| / Q_ext; |dg|; a_n, b_n and S1, S2 relative to their largest
magnitude.
"""

import pathlib

import jax.numpy as jnp
import numpy as np
import pytest

import jaxmie as jm

HERE = pathlib.Path(__file__).parent / "reference"
WAVELENGTH = 2 * np.pi
COLUMNS = ("q_ext", "q_sca", "q_abs", "q_back", "q_fwd", "g", "ab", "s1", "s2")


def jaxmie_values(x, m, theta, k_orders):
    """All stored quantities for a batch of L-layer particles, x (N, L), m (N, L)."""
    x_outer = float(np.max(x[:, -1]))
    n_max = max(k_orders, 1 << int(np.ceil(np.log2(jm.n_max_for(x_outer)))))
    p = jm.Multilayer(radii=jnp.asarray(x), n=jnp.asarray(m))
    s = jm.series(p, WAVELENGTH, n_max=n_max)
    e = jm.efficiencies(p, WAVELENGTH, n_max=n_max)
    s1, s2 = jm.amplitudes(p, WAVELENGTH, jnp.asarray(theta), n_max=n_max)
    out = {f: np.asarray(getattr(e, f)) for f in ("q_ext", "q_sca", "q_abs", "q_back", "q_fwd",
                                                  "g")}
    out.update(a=np.asarray(s.a[:, :k_orders]), b=np.asarray(s.b[:, :k_orders]),
               s1=np.asarray(s1), s2=np.asarray(s2))
    return out


def errors(values, ref, i):
    """One row of disagreements, with generate.py's metrics."""
    e = {}
    for q in ("q_ext", "q_sca", "q_back", "q_fwd"):
        e[q] = abs(values[q][i] - ref[q][i]) / abs(ref[q][i]) if ref[q][i] else abs(values[q][i])
    e["q_abs"] = abs(values["q_abs"][i] - ref["q_abs"][i]) / abs(ref["q_ext"][i])
    e["g"] = abs(values["g"][i] - ref["g"][i])
    ab_ref = np.concatenate([ref["a"][i], ref["b"][i]])
    ab = np.concatenate([values["a"][i], values["b"][i]])
    e["ab"] = np.max(np.abs(ab - ab_ref)) / np.max(np.abs(ab_ref))
    scale = np.maximum(np.abs(ref["s1"][i]), np.abs(ref["s2"][i]))
    for s in ("s1", "s2"):
        e[s] = np.max(np.abs(values[s][i] - ref[s][i]) / scale)
    return np.array([e[c] for c in COLUMNS])


def size_groups(x_outer, edges=(30, 300, 3000)):
    """Indices grouped by outer size, so one n_max (and one compilation) serves a group."""
    bins = np.digitize(x_outer, edges)
    return [np.flatnonzero(bins == b) for b in np.unique(bins)]


def check_table(name, tol=1e-10, max_x=np.inf):
    """Compare every case of a table; tol is a number or a per-column array (COLUMNS)."""
    ref = np.load(HERE / f"{name}.npz")
    keep = np.flatnonzero(ref["x"][:, -1] <= max_x)
    worst = np.zeros(len(COLUMNS))
    for group in size_groups(ref["x"][keep, -1]):
        idx = keep[group]
        values = jaxmie_values(ref["x"][idx], ref["m"][idx], ref["theta"], int(ref["k_orders"]))
        sub = {k: ref[k][idx] for k in ("q_ext", "q_sca", "q_abs", "q_back", "q_fwd", "g", "a",
                                         "b", "s1", "s2")}
        for i, case in enumerate(idx):
            err = errors(values, sub, i)
            worst = np.maximum(worst, err)
            bad = err > tol
            assert not bad.any(), (
                f"{name} case {case}: x={ref['x'][case]}, m={ref['m'][case]}: "
                + ", ".join(f"{c} {v:.2e}" for c, v, b in zip(COLUMNS, err, bad) if b))
    return dict(zip(COLUMNS, worst))


def test_homogeneous_spheres_up_to_x_300():
    worst = check_table("homogeneous", max_x=300.0)
    assert worst["q_ext"] < 1e-10


@pytest.mark.slow
def test_homogeneous_spheres_all_sizes():
    """Up to x = 2e4. S1, S2 at x ~ 1e4 are conditioned ~x eps over the angular dynamic range,
    so they are held to the issue's 1e-9; every other quantity to 1e-10."""
    tol = np.where(np.isin(COLUMNS, ("s1", "s2")), 1e-9, 1e-10)
    check_table("homogeneous", tol=tol)


def test_stress_cases_are_finite_and_accurate():
    """x = 1e4 and 2e4, layered x up to 500, |Im m x| ~ 1000, x = 1e-6, m = 1 + 1e-8, core
    equal to shell, shells of thickness 1e-9 r: every jaxmie value is finite and within 1e-9
    of the reference, including the cases where peers return NaN or lose digits (see
    tests/reference/README.md).

    Nearly index-matched spheres (|m - 1| = 1e-8) cost every double-precision peer
    eps / |m - 1| of its digits (the subtraction D1(mx)/m - D1(x)); jaxmie's split form of
    that numerator (jaxmie.coefficients._contrast) keeps them: the same 1e-9, and at least
    as accurate as the best peer.
    """
    ref = np.load(HERE / "stress.npz")
    for i, label in enumerate(ref["label"]):
        layers = int(ref["n_layers"][i])
        x, m = ref["x"][i:i + 1, :layers], ref["m"][i:i + 1, :layers]
        values = jaxmie_values(x, m, ref["theta"], int(ref["k_orders"]))
        assert all(np.all(np.isfinite(v)) for v in values.values()), label
        sub = {k: ref[k][i:i + 1] for k in ("q_ext", "q_sca", "q_abs", "q_back", "q_fwd", "g",
                                             "a", "b", "s1", "s2")}
        err = errors(values, sub, 0)
        tol = 1e-9
        if layers == 1 and abs(m[0, 0] - 1) < 1e-6:
            best_peer = min(np.max(ref[f"err_{c}"][i]) for c in ("scattnlay", "treams",
                                                                 "miepython"))
            assert np.max(err) <= best_peer, label
        assert np.all(err < tol), f"{label}: " + ", ".join(
            f"{c} {v:.1e}" for c, v in zip(COLUMNS, err) if v >= tol)


def test_core_shell_spheres():
    check_table("coreshell")


@pytest.mark.parametrize("layers", [3, 4, 5])
def test_multilayer_spheres(layers):
    check_table(f"multilayer_L{layers}")
