"""Default truncation (n_max=None) against an independent 50-digit reference.

tests/reference/defaults.npz (generate_defaults.py; provenance there) holds spheres with
x = 30..2e4 and layered particles with x = 30..500 (dielectric, lossy, metallic, thin metal
shells, metal cores, three layers), with q_back, q_fwd, g, S1/S2 at angles approaching pi,
and the scattered near field at and beyond the outer surface, all from mpmath. Two kinds of
check:

- the truncation rules on the reference's own coefficients (no double-precision rounding
  involved): the series cut after jm.n_max_for(x) / jm.n_max_near_field(x) orders misses
  less than 1e-16 of every value, where Wiscombe's rule misses up to 1e-7;
- jaxmie's default answer end to end, within the conditioning of the problem in float64:
  a size parameter known to eps moves every phase by ~x eps, so a sum whose terms have total
  magnitude `scale` carries an error ~x eps scale. Tolerances are that bound (with the
  constant stated per quantity), never looser than needed for the worst case here.
"""

import pathlib

import jax.numpy as jnp
import numpy as np
import pytest

import jaxmie as jm

REFERENCE = np.load(pathlib.Path(__file__).parent / "reference" / "defaults.npz")
EPS = np.finfo(float).eps
WAVELENGTH = 2 * np.pi  # radii in the table are size parameters
CASES = range(len(REFERENCE["kind"]))
# the x > 3000 spheres cost ~1 s each to compile and run: behind --runslow, but for two
SLOW = {i for i in CASES if REFERENCE["x"][i, REFERENCE["n_layers"][i] - 1] > 3000}
SLOW -= {min(SLOW), max(SLOW, key=lambda i: REFERENCE["x"][i, 0])}


def _case(i):
    layers = int(REFERENCE["n_layers"][i])
    x, m = REFERENCE["x"][i, :layers], REFERENCE["m"][i, :layers]
    return jm.Multilayer(radii=list(x), n=list(m)), float(x[-1])


def _tail(name, i, n_max):
    return REFERENCE[name][i, n_max - REFERENCE["window_start"][i]]


def _params(cases, slow):
    return [pytest.param(i, marks=pytest.mark.slow) if i in slow else i for i in cases]


FIELD_CASES = [i for i in CASES if REFERENCE["field"][i]]
# near fields compile per n_max (~1.7 s a case): a third of them in the default run
FIELD_SLOW = set(FIELD_CASES[1::3] + FIELD_CASES[2::3])


def test_rules_converge_the_reference_series():
    """Cut after the default number of orders, the reference's own series miss < 1e-16."""
    worst_wiscombe = 0.0
    for i in CASES:
        _, x = _case(i)
        n = jm.n_max_for(x)
        assert _tail("tail_back", i, n) < 1e-16, (i, x)
        assert _tail("tail_s", i, n) < 1e-16, (i, x)
        if REFERENCE["field"][i]:
            assert _tail("tail_field", i, jm.n_max_near_field(x)) < 1e-16, (i, x)
        worst_wiscombe = max(worst_wiscombe, _tail("tail_s", i, jm.n_max_wiscombe(x)))
    # the check has teeth: Wiscombe's orders leave S1/S2 near pi at up to ~1e-7
    assert worst_wiscombe > 1e-7


@pytest.mark.parametrize("i", _params(CASES, SLOW))
def test_default_far_field_matches_reference(i):
    """q_back, q_fwd, g, Q's, S1/S2 and the Mueller matrix at 0..180 degrees, n_max=None."""
    p, x = _case(i)
    ref = {k: REFERENCE[k][i] for k in ("q_ext", "q_sca", "q_abs", "q_back", "q_fwd", "g",
                                         "s1", "s2", "s_scale", "back_scale")}
    theta = jnp.asarray(REFERENCE["theta"])
    e = jm.efficiencies(p, WAVELENGTH)
    s1, s2 = (np.asarray(v) for v in jm.amplitudes(p, WAVELENGTH, theta))
    mm = jm.mueller_matrix(p, WAVELENGTH, theta)
    # |sum (2n+1)(-1)^n (a_n - b_n)| = x sqrt(q_back); its rounding scale is x eps back_scale
    s_back = x * np.sqrt(ref["q_back"])
    back_tol = 1e-13 + x * EPS * ref["back_scale"] / s_back  # observed up to 0.16 of it
    assert abs(float(e.q_back) / ref["q_back"] - 1) < back_tol
    for name in ("q_ext", "q_sca", "q_fwd"):
        assert abs(float(getattr(e, name)) / ref[name] - 1) < 1e-13 + 4 * x * EPS, name
    assert abs(float(e.q_abs) - ref["q_abs"]) < (1e-13 + 4 * x * EPS) * ref["q_ext"]
    assert abs(float(e.g) - ref["g"]) < 1e-13
    # S1, S2 at every angle: within 8 x eps of their rounding scale (observed up to 4.4 x eps)
    s_tol = 8 * x * EPS * ref["s_scale"] + 1e-14 * np.maximum(abs(ref["s1"]), abs(ref["s2"]))
    assert np.all(abs(s1 - ref["s1"]) < s_tol) and np.all(abs(s2 - ref["s2"]) < s_tol)
    i1, i2, product = abs(ref["s1"]) ** 2, abs(ref["s2"]) ** 2, ref["s2"] * np.conj(ref["s1"])
    mueller_tol = 2 * np.maximum(abs(ref["s1"]), abs(ref["s2"])) * s_tol + 1e-300
    for got, want in ((mm.s11, (i1 + i2) / 2), (mm.s12, (i2 - i1) / 2),
                      (mm.s33, product.real), (mm.s34, product.imag)):
        assert np.all(abs(np.asarray(got) - want) < mueller_tol)


@pytest.mark.parametrize("i", _params(FIELD_CASES, FIELD_SLOW))
def test_default_near_field_matches_reference(i):
    """Scattered E and H at the outer surface and at 1.5 r, n_max=None (near-field rule)."""
    p, x = _case(i)
    points = REFERENCE["points"][i]
    e, h = (np.asarray(v) for v in jm.fields(p, WAVELENGTH, jnp.asarray(points),
                                             field="scattered"))
    e_ref, h_ref = REFERENCE["e_sca"][i], REFERENCE["h_sca"][i]
    incident = np.exp(1j * points[:, 2])[:, None] * np.array([1.0, 0.0, 0.0])
    scale = np.maximum(1.0, np.max(abs(e_ref + incident), axis=1))[:, None]
    tol = 1e-14 + 2 * x * EPS * REFERENCE["field_scale"][i]
    assert np.all(abs(e - e_ref) < tol * scale)
    assert np.all(abs(h - h_ref) < tol * scale)
