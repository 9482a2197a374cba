"""The bundled catalogue of materials: `get`, `list_materials`, `info`, `citation`.

jaxmie ships a curated set of refractiveindex.info datasets (public domain, CC0) inside the
package (jaxmie/materials/data/, listed in data/catalogue.json; the datasets converted
unchanged from the database's YAML to JSON by tools/bundle_materials.py). A material is named by its
formula or common name, optionally with a dataset: "Au" is gold with its default dataset
(Johnson & Christy), "Au/McPeak" an explicit one. Names and aliases ("gold", "silica",
"water") are case-insensitive.

Every dataset keeps its source reference (`citation`) and valid wavelength range; wavelengths
are in nm, as everywhere in jaxmie. Cite the database too (`DATABASE_CITATION`).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
from importlib import resources
from typing import Any

from ._base import Material
from ._refractiveindex import parse_document, plain_text

__all__ = [
    "DATABASE_CITATION",
    "MaterialInfo",
    "citation",
    "get",
    "info",
    "list_datasets",
    "list_materials",
]

DATABASE_CITATION = (
    'M. N. Polyanskiy, "Refractiveindex.info database of optical constants", '
    "Scientific Data 11, 94 (2024), https://doi.org/10.1038/s41597-023-02898-2 "
    "(public domain, CC0 1.0)"
)

_FORMULA_TYPES = ("tabulated nk", "tabulated n", "tabulated k")


@dataclasses.dataclass(frozen=True)
class MaterialInfo:
    """What the catalogue knows about one dataset.

    Attributes:
        name: full name, "<material>/<dataset>".
        material: material name, e.g. "Au".
        dataset: dataset name, e.g. "Johnson".
        is_default: whether it is the material's default dataset.
        description: short description of the material.
        category: "metal", "semiconductor", "dielectric", "phase-change", "water" or "polymer".
        wavelength_range: valid range (lo, hi) in nm.
        types: the file's DATA entry types, e.g. ("formula 4", "tabulated k").
        reference: the dataset's source reference, plain text.
        comments: the dataset's comments (sample, temperature, ...), plain text.
        source: the file's path in the refractiveindex.info database (under data/).
    """

    name: str
    material: str
    dataset: str
    is_default: bool
    description: str
    category: str
    wavelength_range: tuple[float, float]
    types: tuple[str, ...]
    reference: str
    comments: str
    source: str


def _data_dir() -> Any:
    return resources.files(__package__) / "data"


@functools.cache
def _catalogue() -> dict[str, dict]:
    return json.loads((_data_dir() / "catalogue.json").read_text(encoding="utf-8"))


@functools.cache
def _lookup() -> dict[str, str]:
    """Lower-case names and aliases -> material name."""
    table: dict[str, str] = {}
    for material, entry in _catalogue().items():
        for key in [material, *entry.get("aliases", [])]:
            table[key.lower()] = material
    return table


def _resolve(name: str) -> tuple[str, str]:
    """(material, dataset) for "Au", "gold", "Au/McPeak", case-insensitive."""
    if not isinstance(name, str):
        raise TypeError(f"material name must be a string; got {type(name).__name__}")
    head, _, dataset = name.strip().partition("/")
    material = _lookup().get(head.strip().lower())
    if material is None:
        close = difflib.get_close_matches(head.lower(), list(_lookup()), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(repr(_lookup()[c]) for c in close)}?" if close else ""
        raise ValueError(
            f"unknown material {name!r}.{hint} See jaxmie.materials.list_materials(), or read "
            "any refractiveindex.info file with jaxmie.materials.load_yaml."
        )
    datasets = list(_catalogue()[material]["datasets"])
    if not dataset:
        return material, datasets[0]
    for candidate in datasets:
        if candidate.lower() == dataset.strip().lower():
            return material, candidate
    raise ValueError(
        f"material {material!r} has no dataset {dataset!r}; available: {', '.join(datasets)}"
    )


@functools.cache
def _document(material: str, dataset: str) -> dict:
    text = (_data_dir() / material / f"{dataset}.json").read_text(encoding="utf-8")
    return json.loads(text)


@functools.cache
def _load(material: str, dataset: str) -> Material:
    full = f"{material}/{dataset}"
    return parse_document(_document(material, dataset), name=full,
                          source=f"jaxmie bundled dataset {full}")


def get(name: str) -> Material:
    """A bundled material, ready to call on wavelengths in nm.

    Args:
        name: "Au" (default dataset), "Au/McPeak" (explicit dataset), or an alias such as
            "gold"; case-insensitive.

    Returns:
        the material (a pytree callable `wavelength_nm -> n + ik`). Its `name` is
        "<material>/<dataset>" and its `reference` the dataset's citation.

    Raises:
        ValueError: unknown material or dataset (the message lists what exists).

    Examples:
        >>> import jax.numpy as jnp
        >>> import jaxmie as jm
        >>> gold = jm.materials.get("Au")
        >>> gold.name, jm.materials.info("Au").wavelength_range
        ('Au/Johnson', (187.9, 1937.0))
        >>> print(gold(jnp.array([500.0, 600.0, 700.0])).round(3))
        [0.977+1.844j 0.244+3.079j 0.13 +4.063j]
        >>> jm.materials.get("gold").name
        'Au/Johnson'
    """
    return _load(*_resolve(name))


def list_materials(category: str | None = None, *, datasets: bool = False) -> list[str]:
    """Names of the bundled materials.

    Args:
        category: keep only "metal", "semiconductor", "dielectric", "phase-change", "water"
            or "polymer".
        datasets: list every dataset as "<material>/<dataset>" (default first) instead of
            one name per material.
    """
    catalogue = _catalogue()
    categories = {entry["category"] for entry in catalogue.values()}
    if category is not None and category not in categories:
        raise ValueError(f"unknown category {category!r}; expected one of {sorted(categories)}")
    names = [m for m, entry in catalogue.items()
             if category is None or entry["category"] == category]
    if not datasets:
        return names
    return [f"{m}/{d}" for m in names for d in catalogue[m]["datasets"]]


def list_datasets(name: str) -> list[str]:
    """The dataset names of a material, default first (e.g. ["Johnson", "McPeak", ...])."""
    material, _ = _resolve(name)
    return list(_catalogue()[material]["datasets"])


def info(name: str) -> MaterialInfo:
    """Catalogue entry of a material's dataset (default dataset if none is named)."""
    material, dataset = _resolve(name)
    entry = _catalogue()[material]
    document = _document(material, dataset)
    types = tuple(" ".join(str(e.get("type", "")).split()) for e in document["DATA"])
    return MaterialInfo(
        name=f"{material}/{dataset}",
        material=material,
        dataset=dataset,
        is_default=dataset == next(iter(entry["datasets"])),
        description=entry.get("description", ""),
        category=entry["category"],
        wavelength_range=_load(material, dataset).wavelength_range,
        types=types,
        reference=plain_text(document.get("REFERENCES")),
        comments=plain_text(document.get("COMMENTS")),
        source=entry["datasets"][dataset],
    )


def citation(name: str) -> str:
    """How to cite a dataset: its source reference, then the refractiveindex.info database.

    Args:
        name: "Au", "Au/McPeak", ... (as for `get`).
    """
    entry = info(name)
    return (f"{entry.name}: {entry.reference}\n"
            f"Data from the refractiveindex.info database: {DATABASE_CITATION}")
