"""jaxmie against published tables (see ../shared/REFERENCES.md for the sources).

Tolerances follow the digits each table prints: MIEV0/Du (2004) values have 7 significant
digits, so agreement to 1e-6 relative (and the printed last digit) is the test.
"""

import jax.numpy as jnp
import numpy as np
import pytest
from reference.published import MIEV0

import jaxmie as jm

WAVELENGTH = 2 * np.pi  # so that radius in nm equals the size parameter


def sphere_efficiencies(x, m, **kw):
    return jm.efficiencies(jm.Sphere(radius=x, n=m), WAVELENGTH, **kw)


def close_to_printed(value, printed, rel=1e-6):
    """|value - printed| within half a unit in the printed value's 7th significant digit."""
    return abs(value - printed) <= rel * abs(printed) + 1e-300


@pytest.mark.parametrize("x, m, q_ext, q_sca, g, s1_0, s1_180", MIEV0,
                         ids=[f"x={c[0]}-m={c[1]}" for c in MIEV0])
def test_miev0_efficiencies_and_amplitudes(x, m, q_ext, q_sca, g, s1_0, s1_180):
    p = jm.Sphere(radius=float(x), n=complex(m))
    e = jm.efficiencies(p, WAVELENGTH)
    assert close_to_printed(float(e.q_ext), q_ext)
    assert close_to_printed(float(e.q_sca), q_sca)
    if g is not None:
        assert abs(float(e.g) - g) <= 1e-6
    s1, s2 = jm.amplitudes(p, WAVELENGTH, jnp.array([0.0, np.pi]))
    # S1(0) is printed with 6 significant digits; 1e-5 relative to |S1|.
    assert abs(complex(s1[0]) - s1_0) <= 1e-5 * abs(s1_0)
    assert abs(complex(s1[1]) - s1_180) <= 1e-5 * abs(s1_180)
    # S1 = S2 forward, S1 = -S2 backward for any sphere.
    assert abs(complex(s1[0] - s2[0])) <= 1e-12 * abs(s1_0)
    assert abs(complex(s1[1] + s2[1])) <= 1e-9 * abs(complex(s1[0]))


def test_miev0_angular_case():
    """MIEV0, m = 1.5 + 1i, x = 1: S1, S2 at 0, 90 and 180 degrees (B&H convention)."""
    theta = jnp.deg2rad(jnp.array([0.0, 90.0, 180.0]))
    s1, s2 = jm.amplitudes(jm.Sphere(radius=1.0, n=1.5 + 1j), WAVELENGTH, theta)
    np.testing.assert_allclose(s1, [0.584080 - 0.190515j, 0.456340 - 0.167167j,
                                    0.348844 - 0.146829j], atol=1.5e-6)
    np.testing.assert_allclose(s2, [0.584080 - 0.190515j, 0.0362285 + 0.0618265j,
                                    -0.348844 + 0.146829j], atol=1.5e-6)


def test_bohren_huffman_table_4_1_coefficients():
    """B&H Table 4.1: m = 1.33, x = 3; printed with 5 significant digits."""
    a, b = jm.coefficients(jm.Sphere(radius=3.0, n=1.33), WAVELENGTH, n_max=3)
    np.testing.assert_allclose(a, [0.51631 - 0.49973j, 0.34192 - 0.47435j,
                                   0.048467 - 0.21475j], atol=6e-6)
    np.testing.assert_allclose(b, [0.73767 - 0.43990j, 0.40079 - 0.49006j,
                                   9.3553e-3 - 9.6269e-2j], atol=6e-6)


def test_bhmie_phase_matrix():
    """B&H's BHMIE listing, m = 1.55, x = 5.213.

    BHMIE runs in single precision and its printed table is good to ~1e-3 (REFERENCES.md),
    so that is the tolerance here; the same quantities are checked to 1e-10 against
    independent double-precision codes in test_reference_codes.py.
    """
    theta = jnp.deg2rad(jnp.array([0.0, 45.0, 90.0, 135.0, 180.0]))
    mm = jm.mueller_matrix(jm.Sphere(radius=5.213, n=1.55), WAVELENGTH, theta)
    s11 = np.asarray(mm.s11 / mm.s11[0])
    pol = np.asarray(-mm.s12 / mm.s11)
    s33 = np.asarray(mm.s33 / mm.s11)
    np.testing.assert_allclose(s11[1:], [0.0701845, 0.0124601, 0.00543998, 0.0383189],
                               rtol=1e-3)
    np.testing.assert_allclose(pol[1:], [0.00959953, 0.230462, -0.850804, 0.0], atol=1e-3)
    np.testing.assert_allclose(s33[1:], [0.959825, 0.937497, 0.187531, -1.0], atol=1e-3)


# W. Yang, Appl. Opt. 42, 1710 (2003): water core (1.33) in a soot shell (1.59 + 0.66i).
YANG = [
    (0.099668871748, 0.1, 1.393478e-3, 1.122189e-5, 1.67581e-5),
    (1.096357589225, 1.1, 0.1487682, 0.13069, 0.101937),
    (10.066556046521, 10.1, 2.11636, 1.920245, 0.2155814),
    (99.768540619482, 100.1, 2.103456, 1.517152, 0.3805878),
]


@pytest.mark.parametrize("x_core, x, q_ext, q_sca, q_back", YANG)
def test_yang_water_soot(x_core, x, q_ext, q_sca, q_back):
    e = jm.efficiencies(jm.CoreShell(r_core=x_core, r_shell=x, n_core=1.33,
                                     n_shell=1.59 + 0.66j), WAVELENGTH)
    # Yang prints 5-7 significant digits.
    for value, printed in [(e.q_ext, q_ext), (e.q_sca, q_sca), (e.q_back, q_back)]:
        assert abs(float(value) / printed - 1) < 5e-6


def test_five_layer_sphere():
    """Five-layer case (as in the n-mie/scattnlay test-suites)."""
    p = jm.Multilayer(radii=[4.6416, 7.1138, 7.3925, 9.1680, 10.0],
                      n=[1.8 + 1.7j, 0.8 + 0.7j, 1.2 + 0.09j, 2.8 + 0.2j, 1.5 + 0.4j])
    e = jm.efficiencies(p, WAVELENGTH)
    assert abs(float(e.q_ext) / 2.408248 - 1) < 5e-7
    assert abs(float(e.q_sca) / 1.344227 - 1) < 5e-7
    assert abs(float(e.q_back) / 0.07439695 - 1) < 5e-7


def test_silica_core_gold_like_shell():
    """x = 2, 3, m = 1.45, 0.2 + 3i: scattnlay and treams agree to 10 digits."""
    e = jm.efficiencies(jm.CoreShell(r_core=2.0, r_shell=3.0, n_core=1.45, n_shell=0.2 + 3j),
                        WAVELENGTH)
    assert abs(float(e.q_ext) / 3.443931182 - 1) < 2e-10
    assert abs(float(e.q_sca) / 3.182498444 - 1) < 2e-10


@pytest.mark.parametrize("x", [1e-6, 1e-5, 1e-4])
def test_rayleigh_limit(x):
    """Q_sca -> (8/3) x^4 |(m^2-1)/(m^2+2)|^2; relative corrections are O(x^2)."""
    m = 1.5
    e = sphere_efficiencies(x, m)
    rayleigh = 8 / 3 * x**4 * abs((m**2 - 1) / (m**2 + 2)) ** 2
    assert abs(float(e.q_sca) / rayleigh - 1) < 10 * x**2 + 1e-13
    assert float(e.q_abs) == 0.0
    assert abs(float(e.q_back) / (1.5 * rayleigh) - 1) < 10 * x**2 + 1e-13
    if x == 1e-4:
        assert abs(float(e.q_sca) - 2.306805e-17) < 5e-24


def test_rayleigh_absorption():
    """Absorbing Rayleigh sphere: Q_abs -> 4 x Im((m^2-1)/(m^2+2))."""
    x, m = 1e-5, 1.5 + 0.3j
    e = sphere_efficiencies(x, m)
    expected = 4 * x * ((m**2 - 1) / (m**2 + 2)).imag
    assert abs(float(e.q_abs) / expected - 1) < 1e-8


def test_large_conductor_limit():
    """MIEV0's perfect conductor at x = 100: Q_sca = 2.008102, g = 0.500926.

    A perfect conductor is the limit |m| -> infinity; m = 1e6 i is within 1e-6 of it.
    """
    e = sphere_efficiencies(100.0, 1e6j)
    assert abs(float(e.q_sca) / 2.008102 - 1) < 2e-6
    assert abs(float(e.g) - 0.500926) < 2e-6
