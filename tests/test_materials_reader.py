"""refractiveindex.info YAML and CSV readers: entry combinations and malformed files."""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import jaxmie.materials as jm  # noqa: E402

HEADER = "REFERENCES: |\n    A. Author, <i>J. Test</i> <b>1</b>, 2 (2000)\nCOMMENTS: |\n    test\n"

NK = HEADER + """DATA:
  - type: tabulated nk
    data: |
        0.40 1.50 0.10
        0.50 1.45 0.05
        0.60 1.40 0.00
        0.70 1.38 0.01
"""


def test_tabulated_nk_in_nanometres():
    material = jm.parse_yaml(NK, name="test")
    assert isinstance(material, jm.Tabulated)
    assert material.wavelength_range == pytest.approx((400.0, 700.0))
    got = np.asarray(material(jnp.array([400.0, 500.0, 600.0, 700.0])))
    np.testing.assert_array_equal(got.real, [1.50, 1.45, 1.40, 1.38])
    np.testing.assert_array_equal(got.imag, [0.10, 0.05, 0.00, 0.01])
    between = np.asarray(material(jnp.linspace(400.0, 700.0, 301)))
    assert np.all(between.imag >= 0.0)  # k = 0 at a node stays >= 0 around it
    assert material.reference == "A. Author, J. Test 1, 2 (2000)"


def test_tabulated_n_only_has_zero_k():
    text = HEADER + "DATA:\n  - type: tabulated n\n    data: |\n        0.4 1.5\n        0.8 1.4\n"
    material = jm.parse_yaml(text)
    np.testing.assert_array_equal(np.asarray(material(jnp.array([400.0, 600.0]))).imag, 0.0)


def test_formula_n_with_tabulated_k():
    text = HEADER + """DATA:
  - type: formula 2
    wavelength_range: 0.3 2.0
    coefficients: 0 1.1819 0.011313
  - type: tabulated k
    data: |
        0.5 0.001
        0.6 0.002
        0.7 0.004
"""
    material = jm.parse_yaml(text, name="combined")
    assert isinstance(material, jm.Composite)
    assert material.wavelength_range == pytest.approx((500.0, 700.0))
    got = np.asarray(material(jnp.array([500.0, 600.0, 700.0])))
    lam = np.array([0.5, 0.6, 0.7])
    np.testing.assert_allclose(got.real, np.sqrt(1 + 1.1819 * lam**2 / (lam**2 - 0.011313)),
                               rtol=1e-14)
    np.testing.assert_array_equal(got.imag, [0.001, 0.002, 0.004])
    with pytest.raises(ValueError, match=r"combined.*500-700 nm"):
        material(400.0)  # n is known there, k is not


def test_identical_repeated_rows_are_dropped():
    text = NK.replace("0.50 1.45 0.05\n", "0.50 1.45 0.05\n        0.50 1.45 0.05\n")
    material = jm.parse_yaml(text)
    assert material.wavelength.shape == (4,)


def test_negative_k_clip_option():
    text = NK.replace("0.60 1.40 0.00", "0.60 1.40 -0.002")
    with pytest.raises(jm.MaterialFileError, match="k must be >= 0.*negative_k='clip'"):
        jm.parse_yaml(text)
    material = jm.parse_yaml(text, negative_k="clip")
    assert complex(material(600.0)).imag == 0.0


def test_load_yaml_file(tmp_path):
    path = tmp_path / "Example.yml"
    path.write_text(NK, encoding="utf-8")
    material = jm.load_yaml(path)
    assert material.name == "Example"
    assert complex(material(500.0)) == pytest.approx(1.45 + 0.05j)
    with pytest.raises(OSError):
        jm.load_yaml(tmp_path / "missing.yml")


MALFORMED = [
    ("DATA: [unclosed", "not valid YAML"),
    ("- just\n- a list\n", "expected a YAML mapping"),
    ("REFERENCES: x\n", "missing or empty DATA"),
    ("DATA: []\n", "missing or empty DATA"),
    ("DATA:\n  - data: '0.5 1.5'\n", "must be a mapping with a 'type'"),
    ("DATA:\n  - type: tabulated foo\n    data: |\n        0.5 1\n", "unknown type"),
    ("DATA:\n  - type: tabulated n2\n    data: |\n        0.5 1e-20\n        0.6 1e-20\n",
     "nonlinear"),
    ("DATA:\n  - type: formula 10\n    wavelength_range: 0.4 1\n    coefficients: 1 2\n",
     "unknown formula 10"),
    ("DATA:\n  - type: tabulated nk\n", "'data' must be a block of text rows"),
    ("DATA:\n  - type: tabulated nk\n    data: |\n        0.5 1.5\n        0.6 1.4\n",
     "row 1 has 2 columns, expected 3"),
    ("DATA:\n  - type: tabulated nk\n    data: |\n        0.5 1.5 0.1\n        0.6 x 0.1\n",
     "row 2 is not numeric"),
    ("DATA:\n  - type: tabulated nk\n    data: |\n        0.5 1.5 0.1\n        0.6 nan 0.1\n",
     "row 2 is not finite"),
    ("DATA:\n  - type: tabulated nk\n    data: |\n        0.5 1.5 0.1\n", "at least 2 rows"),
    ("DATA:\n  - type: tabulated nk\n    data: |\n        0.6 1.5 0.1\n        0.5 1.4 0.1\n",
     "must increase; 0.6 in data row 1 is followed by the smaller 0.5"),
    ("DATA:\n  - type: tabulated nk\n    data: |\n        0.5 1.5 0.1\n        0.5 1.4 0.1\n",
     "repeated with different values"),
    ("DATA:\n  - type: tabulated nk\n    data: |\n        -0.5 1.5 0.1\n        0.5 1.4 0.1\n",
     "must be > 0"),
    ("DATA:\n  - type: formula 1\n    wavelength_range: 0.4 1\n", "coefficients is missing"),
    ("DATA:\n  - type: formula 1\n    wavelength_range: 0.4 1\n    coefficients: 0 a 1\n",
     "coefficients must be numbers"),
    ("DATA:\n  - type: formula 1\n    coefficients: 0 1 0.1\n", "wavelength_range is missing"),
    ("DATA:\n  - type: formula 1\n    wavelength_range: 1 0.4\n    coefficients: 0 1 0.1\n",
     "0 < lo < hi"),
    ("DATA:\n  - type: formula 1\n    wavelength_range: 0.4\n    coefficients: 0 1 0.1\n",
     "0 < lo < hi"),
    ("DATA:\n  - type: formula 8\n    wavelength_range: 0.4 1\n    coefficients: 1 2 3 4 5\n",
     "at most 4 coefficients"),
    ("DATA:\n  - type: tabulated k\n    data: |\n        0.5 0.1\n        0.6 0.1\n",
     "gives k but no n"),
    ("DATA:\n  - type: formula 1\n    wavelength_range: 0.4 1\n    coefficients: 0 1 0.1\n"
     "  - type: tabulated n\n    data: |\n        0.5 1.5\n        0.6 1.4\n",
     "more than one DATA entry gives n"),
    ("DATA:\n  - type: formula 1\n    wavelength_range: 0.4 1\n    coefficients: 0 1 0.1\n"
     "  - type: tabulated k\n    data: |\n        1.5 0.1\n        1.6 0.1\n",
     "do not overlap"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_yaml_gives_a_clear_error(text, message):
    with pytest.raises(jm.MaterialFileError, match=message) as info:
        jm.parse_yaml(text, name="bad.yml")
    assert str(info.value).startswith("bad.yml")
    assert isinstance(info.value, ValueError)


def test_csv_reader(tmp_path):
    text = "# measured\nwavelength_nm,n,k\n400,1.50,0.10\n500,1.45,0.05\n600,1.40,0.00\n"
    material = jm.parse_csv(text, name="csv")
    assert material.wavelength_range == (400.0, 600.0)
    assert complex(material(500.0)) == pytest.approx(1.45 + 0.05j)
    spaced = jm.parse_csv("0.4 1.5\n0.5 1.45\n0.6 1.4\n", wavelength_unit="um")
    assert spaced.wavelength_range == pytest.approx((400.0, 600.0))
    assert complex(spaced(600.0)) == pytest.approx(1.4)
    path = tmp_path / "table.csv"
    path.write_text(text, encoding="utf-8")
    assert jm.load_csv(path).name == "table"


@pytest.mark.parametrize(("text", "message"), [
    ("400,1.5,0.1\n500,1.4\n", "row 2 has 2 columns, earlier rows 3"),
    ("400,1.5,0.1,7\n500,1.4,0.1,7\n", "expected wavelength, n"),
    ("w,n\n400,1.5\nfoo,1.4\n", "row 3 is not numeric"),
    ("400,1.5\n", "at least 2 rows"),
    ("500,1.5,0.1\n400,1.4,0.1\n", "must increase"),
    ("400,1.5,-0.1\n500,1.4,0.1\n", "k must be >= 0"),
])
def test_malformed_csv(text, message):
    with pytest.raises(jm.MaterialFileError, match=message):
        jm.parse_csv(text)


def test_csv_unknown_unit():
    with pytest.raises(ValueError, match="wavelength_unit"):
        jm.parse_csv("400,1.5\n500,1.4\n", wavelength_unit="furlong")


def test_tabulated_factory_checks():
    with pytest.raises(ValueError, match="strictly increasing"):
        jm.tabulated([400.0, 400.0, 500.0], [1.5, 1.5, 1.5])
    with pytest.raises(ValueError, match="3 values but wavelength has 2"):
        jm.tabulated([400.0, 500.0], [1.5, 1.5, 1.5])
    with pytest.raises(ValueError, match="k must be >= 0"):
        jm.tabulated([400.0, 500.0], [1.5, 1.5], [0.1, -0.1])
    complex_table = jm.tabulated([400.0, 500.0], np.array([1.5 + 0.1j, 1.4 + 0.2j]))
    assert complex(complex_table(500.0)) == pytest.approx(1.4 + 0.2j)
