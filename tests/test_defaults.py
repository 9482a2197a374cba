"""Default truncation (n_max=None) against an independent 50-digit reference.

tests/reference/defaults.npz (generate_defaults.py; provenance there) holds spheres with
x = 30..2e4 and layered particles with x = 30..500 (dielectric, lossy, metallic, thin metal
shells, metal cores, three layers), with q_back, q_fwd, g, S1/S2 at angles approaching pi,
and the scattered near field at and beyond the outer surface, all from mpmath; and
tests/reference/ensembles.npz (generate_ensembles.py) size-distribution averages from
scipy's adaptive quadrature of scattnlay's cross sections. Two kinds of check:

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
from jaxmie import ensemble as E
from jaxmie import suspension as S

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


# ------------------------------------------------------------------------------------------
# Size-distribution averages with the default (adaptive) quadrature
# ------------------------------------------------------------------------------------------

ENSEMBLES = np.load(pathlib.Path(__file__).parent / "reference" / "ensembles.npz")


def _distribution(family, params):
    a, b = (float(v) for v in params)
    return {"lognormal": lambda: E.LogNormal(median=a, sigma=b),
            "gamma": lambda: E.Gamma(r_eff=a, v_eff=b),
            "schulz": lambda: E.Gamma.schulz(a, b),
            "normal": lambda: E.Normal(mean_radius=a, std=b)}[str(family)]()


ENSEMBLE_SLOW = {"mineral dust", "wide gamma"}


@pytest.mark.parametrize("i", [
    pytest.param(i, marks=pytest.mark.slow) if str(k) in ENSEMBLE_SLOW else i
    for i, k in enumerate(ENSEMBLES["kind"])], ids=[str(k) for k in ENSEMBLES["kind"]])
def test_default_mean_optics_within_rtol_of_dense_reference(i):
    """mean_optics with no quadrature argument against scipy's adaptive Gauss-Kronrod of
    scattnlay's cross sections (generate_ensembles.py): every average within the default
    rtol = 1e-6 (c_abs against c_ext, g absolute), and within the reported error estimate."""
    ref = {k: ENSEMBLES[k][i] for k in ("c_ext", "c_sca", "c_abs", "c_back", "g", "area",
                                         "volume", "s11")}
    dist = _distribution(ENSEMBLES["family"][i], ENSEMBLES["params"][i])
    theta = jnp.asarray(ENSEMBLES["theta"])
    o = E.mean_optics(dist, complex(ENSEMBLES["m"][i]), float(ENSEMBLES["wavelength"][i]),
                      theta, float(ENSEMBLES["n_env"][i]))
    errors = {name: abs(float(getattr(o, name)) / ref[name] - 1)
              for name in ("c_ext", "c_sca", "c_back", "area", "volume")
              if np.isfinite(ref[name])}  # (c_back, s11: not for the nearly lossless cases)
    errors["c_abs"] = abs(float(o.c_abs) - ref["c_abs"]) / ref["c_ext"]
    errors["g"] = abs(float(o.g) - ref["g"])
    if np.all(np.isfinite(ref["s11"])):
        errors["s11"] = float(np.max(abs(np.asarray(o.mueller.s11) / ref["s11"] - 1)))
    worst = max(errors.values())
    assert worst < 1e-6, errors
    # The estimate is checked down to the reference's own precision: scattnlay's c_back
    # (an alternating series) carries ~1e-12 relative rounding, and the quadrature its
    # ref_self_err.
    floor = max(1e-11, 10 * float(ENSEMBLES["ref_self_err"][i]))
    assert worst < 2 * float(o.error) + floor, (errors, float(o.error))


@pytest.mark.parametrize("j", range(len(ENSEMBLES["rgd_family"])))
def test_default_decoupling_within_rtol_of_dense_reference(j):
    """decoupling with the default quadrature: <F^2>(q) / <V^2> and beta = <F>^2 / <F^2>
    against the reference integrals, to 1e-6 (beta where <F>^2 is not a vanishing part of
    <F^2>, i.e. against 1)."""
    dist = _distribution(ENSEMBLES["rgd_family"][j], ENSEMBLES["rgd_params"][j])
    q = ENSEMBLES["rgd_q"]
    d = S.decoupling(jnp.asarray(q), dist, 0.2)
    mean_f, mean_f2 = ENSEMBLES["rgd_mean_f"][j], ENSEMBLES["rgd_mean_f2"][j]
    np.testing.assert_allclose(d.form, mean_f2 / ENSEMBLES["rgd_mean_v2"][j], rtol=1e-6)
    assert np.max(abs(np.asarray(d.beta) - mean_f**2 / mean_f2)) < 1e-6


@pytest.mark.parametrize("kind", ["TiO2 pigment", "latex"])
def test_default_mie_decoupling_form_within_rtol_of_dense_reference(kind):
    """mie_decoupling's form <S11>(theta) / <S11>(0) with the default quadrature against the
    reference's <S11> (scattnlay amplitudes, scipy's adaptive quadrature), to 2e-6 (two
    averages, each within rtol = 1e-6); the reported error covers it."""
    i = [str(k) for k in ENSEMBLES["kind"]].index(kind)
    dist = _distribution(ENSEMBLES["family"][i], ENSEMBLES["params"][i])
    theta = ENSEMBLES["theta"][1:]  # 0 is the normalisation itself
    d = S.mie_decoupling(dist, complex(ENSEMBLES["m"][i]), float(ENSEMBLES["wavelength"][i]),
                         jnp.asarray(theta), 0.1, float(ENSEMBLES["n_env"][i]))
    s11 = ENSEMBLES["s11"][i]
    errors = abs(np.asarray(d.form) / (s11[1:] / s11[0]) - 1)
    assert np.max(errors) < 2e-6, errors
    assert np.all(errors < 2 * (np.asarray(d.error) + float(np.max(d.error))) + 1e-12)
