"""Bundled datasets and refractiveindex.info formulas against independent references.

The references here do not use jaxmie's reader: the bundled files (refractiveindex.info's
YAML converted to JSON by tools/bundle_materials.py) are parsed directly with json and
NumPy, and the nine dispersion formulas are re-implemented in NumPy from their published
definitions (refractiveindex.info, doc/Dispersion formulas.pdf; FORMAT.md).
"""

import json
import math
from importlib import resources

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import jaxmie.materials as jm  # noqa: E402

DATA = resources.files("jaxmie.materials") / "data"
CATALOGUE = json.loads((DATA / "catalogue.json").read_text(encoding="utf-8"))
ALL_DATASETS = [f"{m}/{d}" for m, e in CATALOGUE.items() for d in e["datasets"]]
QUERY = 4096  # one query length for every dataset, so compiled code is shared


# --- independent NumPy references of the nine formulas (lambda in um) --------------------

def _coefficient(c, i):
    """C_i (1-based), zero when absent."""
    return c[i - 1] if i <= len(c) else 0.0


def reference_n(formula, lam, c):
    c = [float(v) for v in c]
    lam = np.asarray(lam, dtype=np.float64)
    if formula in (1, 2, 3, 5, 6):
        total = np.zeros_like(lam)
        for i in range(2, len(c) + 1, 2):
            a, b = _coefficient(c, i), _coefficient(c, i + 1)
            if formula == 1:
                total += a * lam**2 / (lam**2 - b**2)
            elif formula == 2:
                total += a * lam**2 / (lam**2 - b)
            elif formula in (3, 5):
                total += a * lam**b
            else:
                total += a / (b - lam**-2)
        if formula in (1, 2):
            return np.sqrt(1.0 + c[0] + total)
        if formula == 3:
            return np.sqrt(c[0] + total)
        if formula == 5:
            return c[0] + total
        return 1.0 + c[0] + total
    C = [_coefficient(c, i) for i in range(1, max(len(c), 9) + 1)]
    if formula == 4:
        n2 = (C[0] + C[1] * lam ** C[2] / (lam**2 - C[3] ** C[4])
              + C[5] * lam ** C[6] / (lam**2 - C[7] ** C[8]))
        for i in range(10, len(C) + 1, 2):
            n2 += _coefficient(C, i) * lam ** _coefficient(C, i + 1)
        return np.sqrt(n2)
    if formula == 7:
        L = 1.0 / (lam**2 - 0.028)
        return C[0] + C[1] * L + C[2] * L**2 + C[3] * lam**2 + C[4] * lam**4 + C[5] * lam**6
    if formula == 8:
        r = C[0] + C[1] * lam**2 / (lam**2 - C[2]) + C[3] * lam**2
        return np.sqrt((1 + 2 * r) / (1 - r))
    if formula == 9:
        return np.sqrt(C[0] + C[1] / (lam**2 - C[2])
                       + C[3] * (lam - C[4]) / ((lam - C[4]) ** 2 + C[5]))
    raise ValueError(formula)


# Sample coefficients for every formula type: database files (types 1-8; bundled or, for
# 6 and 8, copied here from refractiveindex.info: H2/Peck, AgBr/Schroter), and a synthetic
# set for type 9, which no database file uses.
FORMULA_SAMPLES = {
    1: ("0 0.6961663 0.0684043 0.4079426 0.1162414 0.8974794 9.896161", (0.21, 6.7)),
    2: ("0 1.1819 0.011313", (0.4368, 1.052)),
    3: ("2.1778 6.1209e-3 2 -1.5004e-3 4 2.3678e-2 -2 -4.2137e-3 -4 7.3417e-4 -6 "
        "-4.5042e-5 -8", (0.42, 1.62)),
    4: ("2.956362 0.02195770 0 0.01428322 1 0 0 0 1 -0.01062387 2 -0.0000204968 4",
        (0.36, 5.4)),
    5: ("1.8754 0.0163 -2", (0.2, 2.0)),
    6: ("0 0.0148956 180.7 0.0049037 92", (0.1680, 1.6945)),
    7: ("3.41983 0.159906 -0.123109 1.26878E-6 -1.95104E-9", (2.4373, 25)),
    8: ("0.452505 0.09939 0.070537 -0.000150", (0.495, 0.67)),
    9: ("2.5 0.1 0.04 0.02 1.2 0.05", (0.4, 2.0)),
}


def _yaml_formula(formula, coefficients, bounds):
    return (f"DATA:\n  - type: formula {formula}\n    wavelength_range: {bounds[0]} "
            f"{bounds[1]}\n    coefficients: {coefficients}\n")


@pytest.mark.parametrize("formula", sorted(FORMULA_SAMPLES))
def test_formula_types_match_independent_reference(formula):
    coefficients, bounds = FORMULA_SAMPLES[formula]
    material = jm.parse_yaml(_yaml_formula(formula, coefficients, bounds), name=f"f{formula}")
    assert isinstance(material, jm.Formula) and material.formula == formula
    assert material.wavelength_range == pytest.approx((bounds[0] * 1e3, bounds[1] * 1e3))
    lam_um = np.linspace(bounds[0], bounds[1], QUERY)
    got = np.asarray(material(lam_um * 1e3))
    expected = reference_n(formula, lam_um, coefficients.split())
    assert np.all(np.isfinite(expected))
    np.testing.assert_allclose(got.real, expected, rtol=1e-13, atol=0)
    np.testing.assert_array_equal(got.imag, 0.0)


@pytest.mark.parametrize(("name", "wavelength", "expected", "tolerance"), [
    # Malitson (1965), Table: fused silica at the sodium D line, n = 1.4584.
    ("SiO2/Malitson", 589.3, 1.4584, 5e-5),
    # Sapphire ordinary ray at 589.3 nm (Malitson & Dodge 1972): n_o = 1.7682.
    ("Al2O3/Malitson-o", 589.3, 1.7682, 3e-4),
    # Water at 589 nm: 1.333; diamond: 2.417; PMMA ~1.49; polystyrene ~1.59.
    ("H2O", 589.0, 1.333, 1e-3),
    ("diamond/Peter", 589.3, 2.4175, 1e-3),
    ("PMMA", 589.3, 1.4905, 2.5e-3),
    ("polystyrene", 589.3, 1.5905, 3e-3),
])
def test_published_values(name, wavelength, expected, tolerance):
    assert abs(complex(jm.get(name)(wavelength)).real - expected) < tolerance


# --- every bundled dataset ------------------------------------------------------------------

def _source_entries(dataset):
    material, name = dataset.split("/")
    document = json.loads((DATA / material / f"{name}.json").read_text(encoding="utf-8"))
    return document["DATA"]


def _rows(text):
    return np.array([[float(v) for v in line.split()] for line in text.strip().splitlines()])


@pytest.mark.parametrize("dataset", ALL_DATASETS)
def test_bundled_dataset_reproduces_source_and_is_passive(dataset):
    material = jm.get(dataset)
    lo, hi = material.wavelength_range
    entries = _source_entries(dataset)
    nodes, checks = [], []
    for entry in entries:
        kind = " ".join(entry["type"].split())
        if kind.startswith("tabulated"):
            table = _rows(entry["data"])
            w_nm = table[:, 0] * 1000.0
            inside = (w_nm >= lo) & (w_nm <= hi)
            labels = {"tabulated nk": ("n", "k"), "tabulated n": ("n",),
                      "tabulated k": ("k",)}[kind]
            for column, label in enumerate(labels, start=1):
                checks.append((len(np.concatenate(nodes)) if nodes else 0, w_nm[inside],
                               label, table[inside, column]))
            nodes.append(w_nm[inside])
        else:
            assert kind.startswith("formula")
    nodes = np.concatenate(nodes) if nodes else np.zeros(0)
    assert nodes.size <= QUERY - 1024
    dense = np.linspace(lo, hi, QUERY - nodes.size)
    value = np.asarray(material(np.concatenate([nodes, dense])))
    # source table reproduced at its nodes
    for start, w_nm, label, expected in checks:
        got = value[start:start + w_nm.size]
        got = got.real if label == "n" else got.imag
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12, err_msg=dataset)
    # formulas against the NumPy reference over the whole range
    for entry in entries:
        kind = " ".join(entry["type"].split())
        if kind.startswith("formula"):
            expected = reference_n(int(kind.split()[1]), dense / 1000.0,
                                   str(entry["coefficients"]).split())
            np.testing.assert_allclose(value[nodes.size:].real, expected, rtol=1e-12,
                                       err_msg=dataset)
    # finite and passive over the whole range
    assert np.all(np.isfinite(value)), dataset
    assert np.all(value.imag >= 0.0), dataset
    assert np.all(value.real > 0.0), dataset
    if not any("k" in " ".join(e["type"].split()).split()[-1] for e in entries):
        np.testing.assert_array_equal(value.imag, 0.0)


def test_catalogue_is_complete_and_small():
    required = ["Au", "Ag", "Al", "Cu", "Pt", "Pd", "Cr", "Ti", "Ni", "W", "Si", "a-Si", "Ge",
                "GaAs", "GaP", "InP", "GaN", "SiC", "SiO2", "TiO2", "ZrO2", "Al2O3", "ZnO",
                "HfO2", "ITO", "Si3N4", "MgF2", "H2O", "ice", "PMMA", "polystyrene", "diamond"]
    names = jm.list_materials()
    assert len(names) >= 40
    assert set(required) <= set(names)
    files = {f"{d.name}/{f.name[:-5]}" for d in DATA.iterdir() if d.is_dir()
             for f in d.iterdir() if f.name.endswith(".json")}
    assert files == set(ALL_DATASETS) == set(jm.list_materials(datasets=True))
    size = sum(f.stat().st_size for f in _walk(DATA))
    assert size < 3_000_000


def _walk(folder):
    import pathlib

    return [p for p in pathlib.Path(str(folder)).rglob("*") if p.is_file()]


def test_names_defaults_and_aliases():
    assert jm.get("Au").name == "Au/Johnson"
    assert jm.get("gold") is jm.get("au") is jm.get("Au/johnson")
    assert jm.get("Au/McPeak").name == "Au/McPeak"
    assert jm.get("water").name == "H2O/Hale"
    assert jm.get("PS").name == "polystyrene/Sultanova"
    assert jm.list_datasets("Au")[0] == "Johnson"
    assert set(jm.list_materials("metal")) >= {"Au", "Ag", "Al", "TiN"}
    assert "Au/McPeak" in jm.list_materials(datasets=True)
    with pytest.raises(ValueError, match="unknown category"):
        jm.list_materials("metals")


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="unknown material 'Gold-ish'"):
        jm.get("Gold-ish")
    with pytest.raises(ValueError, match="Did you mean 'Au'"):
        jm.get("gld")
    with pytest.raises(ValueError, match="has no dataset 'Nobody'.*Johnson"):
        jm.get("Au/Nobody")


def test_citation_and_info():
    text = jm.citation("Au")
    assert "Johnson" in text and "Christy" in text and "10.1103/PhysRevB.6.4370" in text
    assert "Polyanskiy" in text and "<" not in text
    entry = jm.info("Si/Chandler-Horowitz")
    assert entry.types == ("formula 4", "tabulated k")
    assert entry.category == "semiconductor" and not entry.is_default
    assert entry.source == "main/Si/nk/Chandler-Horowitz.yml"
    # n from the formula (2.5-22.222 um) and k from the table (6.25-23.26 um): intersection
    assert entry.wavelength_range == pytest.approx((6250.0, 22222.0))
    assert jm.info("Au").wavelength_range == pytest.approx((187.9, 1937.0))


def test_out_of_range_raises_naming_material_and_range():
    with pytest.raises(ValueError, match=r"Au/Johnson.*187.9-1937 nm.*2000.0"):
        jm.get("Au")(jnp.array([500.0, 2000.0]))
    with pytest.raises(ValueError, match="SiO2/Malitson"):
        jm.get("SiO2")(200.0)
    with pytest.raises(ValueError, match="finite"):
        jm.get("SiO2")(float("nan"))
    assert math.isfinite(complex(jm.get("SiO2")(210.0)).real)  # the end itself is valid
