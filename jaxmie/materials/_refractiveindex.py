"""Readers for refractiveindex.info YAML files and plain CSV tables.

A refractiveindex.info file (https://refractiveindex.info, database by M. N. Polyanskiy,
Sci. Data 11, 94 (2024)) holds `REFERENCES`, `COMMENTS` and a list `DATA` of one or two
entries, each `tabulated nk`, `tabulated n`, `tabulated k` or `formula 1`...`formula 9`, with
wavelengths in micrometres. The reader turns a file into a material (wavelengths in nm):

=====================================  ======================================================
entries                                material
=====================================  ======================================================
tabulated nk                           `Tabulated` (n and k on one grid)
tabulated n                            `Tabulated` with k = 0
formula N                              `Formula` (k = 0)
formula N or tabulated n, tabulated k  `Composite` (n from the first, k from the table),
                                       valid where both are (intersection of the ranges)
=====================================  ======================================================

Anything else is an error, never a silent wrong index: YAML that does not parse, a missing or
empty DATA list, unknown entry types (including nonlinear `tabulated n2`), two sources for n
or for k, k without n, rows with the wrong number of columns or non-numeric or non-finite
values, wavelengths that are not increasing (repeated identical rows are dropped; a repeated
wavelength with different values is an error), negative k (unless `negative_k="clip"`),
formulas with missing, non-numeric or too many coefficients, and bad or disjoint ranges. The
error is a `MaterialFileError` (a ValueError) naming the file and the entry or row.
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from .._typing import NegativeK
from ._base import Composite, Material, intersect_ranges
from ._formulas import MAX_COEFFICIENTS, Formula
from ._tabulated import Tabulated, tabulated

__all__ = [
    "MaterialFileError",
    "load_csv",
    "load_yaml",
    "parse_csv",
    "parse_document",
    "parse_yaml",
    "plain_text",
]

_UM_TO_NM = 1000.0
_COLUMNS = {"tabulated nk": ("n", "k"), "tabulated n": ("n",), "tabulated k": ("k",)}
_UNITS = {"nm": 1.0, "um": 1000.0, "µm": 1000.0, "micron": 1000.0, "m": 1e9}


class MaterialFileError(ValueError):
    """A material file (YAML or CSV) that cannot be read into a correct index."""


def plain_text(text: Any) -> str:
    """References or comments from the database as plain text.

    Links `<a href="URL">label</a>` become `label (URL)`, `<br>` a line break, other tags are
    dropped and HTML entities decoded.
    """
    if text is None:
        return ""
    text = str(text)
    text = re.sub(r'<a\s+href\s*=\s*"([^"]*)"\s*>(.*?)</a>', r"\2 (\1)", text, flags=re.S | re.I)
    text = re.sub(r"<br\s*/?>", "\n", text, flags=re.I)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    lines = [" ".join(line.split()) for line in text.strip().splitlines()]
    return "\n".join(line for line in lines if line)


def _numbers(value: Any, what: str, source: str) -> np.ndarray:
    """Whitespace-separated numbers (or a YAML number / list of numbers) as float64."""
    if isinstance(value, bool) or value is None:
        raise MaterialFileError(f"{source}: {what} is missing or not numeric: {value!r}")
    if isinstance(value, (int, float)):
        items: Sequence[Any] = [value]
    elif isinstance(value, str):
        items = value.split()
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise MaterialFileError(f"{source}: {what} must be numbers; got {value!r}")
    try:
        array = np.array([float(v) for v in items], dtype=np.float64)
    except (TypeError, ValueError):
        raise MaterialFileError(f"{source}: {what} must be numbers; got {value!r}") from None
    if array.size == 0:
        raise MaterialFileError(f"{source}: {what} is empty")
    if not np.all(np.isfinite(array)):
        raise MaterialFileError(f"{source}: {what} contains non-finite values: {value!r}")
    return array


def _table(rows_text: Any, columns: int, source: str) -> np.ndarray:
    """Parse a `data` block into an array (rows, columns), wavelength first, checked."""
    if not isinstance(rows_text, str):
        raise MaterialFileError(f"{source}: 'data' must be a block of text rows; got "
                                f"{type(rows_text).__name__}")
    rows, numbers = [], []
    for number, line in enumerate(rows_text.splitlines(), start=1):
        fields = line.replace(",", " ").split()
        if not fields:
            continue
        if len(fields) != columns:
            raise MaterialFileError(
                f"{source}: data row {number} has {len(fields)} columns, expected {columns}: "
                f"{line.strip()!r}")
        try:
            values = [float(f) for f in fields]
        except ValueError:
            raise MaterialFileError(
                f"{source}: data row {number} is not numeric: {line.strip()!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise MaterialFileError(f"{source}: data row {number} is not finite: {line.strip()!r}")
        rows.append(values)
        numbers.append(number)
    if len(rows) < 2:
        raise MaterialFileError(f"{source}: a table needs at least 2 rows; got {len(rows)}")
    return _ordered(np.array(rows, dtype=np.float64), np.array(numbers), source)


def _ordered(table: np.ndarray, numbers: np.ndarray, source: str) -> np.ndarray:
    """Drop exact repeated rows; reject decreasing or conflicting wavelengths, w <= 0.

    `numbers` are the rows' line numbers in the data block, for messages.
    """
    w = table[:, 0]
    if np.any(w <= 0):
        i = int(np.argmax(w <= 0))
        raise MaterialFileError(
            f"{source}: wavelengths must be > 0; got {w[i]:g} in data row {numbers[i]}")
    repeat = np.concatenate([[False], np.all(table[1:] == table[:-1], axis=1)])
    table, numbers = table[~repeat], numbers[~repeat]
    w = table[:, 0]
    steps = np.diff(w)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        problem = ("is repeated with different values" if steps[i] == 0
                   else f"is followed by the smaller {w[i + 1]:g}")
        raise MaterialFileError(
            f"{source}: wavelengths must increase; {w[i]:g} in data row {numbers[i]} "
            f"{problem} in row {numbers[i + 1]}")
    if table.shape[0] < 2:
        raise MaterialFileError(f"{source}: a table needs at least 2 distinct rows")
    return table


def _check_k(w_nm: np.ndarray, k: np.ndarray, source: str, negative_k: str) -> np.ndarray:
    if negative_k not in ("error", "clip"):
        raise ValueError(f"negative_k must be 'error' or 'clip'; got {negative_k!r}")
    if np.any(k < 0):
        if negative_k == "clip":
            return np.maximum(k, 0.0)
        i = int(np.argmax(k < 0))
        raise MaterialFileError(
            f"{source}: k must be >= 0 (n + ik, k >= 0 absorbs); got k = {k[i]:g} at "
            f"{w_nm[i] / _UM_TO_NM:g} um. Pass negative_k='clip' to set negative values to 0")
    return k


def _formula(entry: dict, formula: int, source: str, name: str, reference: str) -> Formula:
    coefficients = _numbers(entry.get("coefficients"), "coefficients", source)
    limit = MAX_COEFFICIENTS.get(formula)
    if limit is not None and coefficients.size > limit:
        raise MaterialFileError(
            f"{source}: formula {formula} takes at most {limit} coefficients; got "
            f"{coefficients.size}")
    bounds = _numbers(entry.get("wavelength_range"), "wavelength_range", source)
    if bounds.size != 2 or not 0 < bounds[0] < bounds[1]:
        raise MaterialFileError(
            f"{source}: wavelength_range must be two numbers 0 < lo < hi (um); got "
            f"{entry.get('wavelength_range')!r}")
    return Formula(
        coefficients=jnp.asarray(coefficients),
        formula=formula,
        wavelength_range=(float(bounds[0] * _UM_TO_NM), float(bounds[1] * _UM_TO_NM)),
        name=name,
        reference=reference,
    )


def _entry_parts(entry: Any, index: int, source: str, name: str, reference: str,
                 negative_k: str) -> dict[str, Material]:
    """The n and/or k sources one DATA entry provides: {"n": material, "k": material}."""
    where = f"{source}: DATA entry {index + 1}"
    if not isinstance(entry, dict) or "type" not in entry:
        raise MaterialFileError(f"{where} must be a mapping with a 'type'; got {entry!r}")
    kind = " ".join(str(entry["type"]).split())
    if kind in _COLUMNS:
        labels = _COLUMNS[kind]
        table = _table(entry.get("data"), 1 + len(labels), f"{where} ({kind})")
        w = table[:, 0] * _UM_TO_NM
        values = dict(zip(labels, table[:, 1:].T, strict=True))
        if "k" in values:
            values["k"] = _check_k(w, values["k"], f"{where} ({kind})", negative_k)
        material = tabulated(w, values.get("n", np.zeros_like(w)), values.get("k"),
                             name=name, reference=reference)
        return dict.fromkeys(labels, material)
    match = re.fullmatch(r"formula\s*(\d+)", kind)
    if match:
        formula = int(match.group(1))
        if not 1 <= formula <= 9:
            raise MaterialFileError(f"{where}: unknown formula {formula}; expected 1-9")
        return {"n": _formula(entry, formula, f"{where} (formula {formula})", name, reference)}
    if kind == "tabulated n2":
        raise MaterialFileError(
            f"{where}: 'tabulated n2' is a nonlinear index (n2), not a linear n or k")
    raise MaterialFileError(
        f"{where}: unknown type {entry['type']!r}; expected 'tabulated nk', 'tabulated n', "
        "'tabulated k' or 'formula 1'..'formula 9'")


def parse_yaml(text: str, *, name: str = "material", source: str | None = None,
               negative_k: NegativeK = "error") -> Material:
    """A material from the text of a refractiveindex.info YAML file.

    Args:
        text: the YAML document.
        name: the material's label (used in error messages and `material.name`).
        source: where the text came from, for error messages (default: `name`).
        negative_k: "error" (default) rejects k < 0 in a table; "clip" sets it to 0.

    Returns:
        a `Tabulated`, `Formula` or `Composite` material; wavelengths in nm. Its `reference`
        holds the file's REFERENCES as plain text.

    Raises:
        MaterialFileError: the file is malformed (see the module doc).
    """
    source = source or name
    try:
        import yaml  # an optional dependency (jaxmie[yaml]): the bundled data is JSON
    except ImportError:
        raise ImportError("reading refractiveindex.info YAML files needs PyYAML: pip install "
                          "'jaxmie[yaml]' (or pyyaml)") from None
    try:
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        raise MaterialFileError(f"{source}: not valid YAML: {error}") from None
    return parse_document(document, name=name, source=source, negative_k=negative_k)


def parse_document(document: Any, *, name: str = "material", source: str | None = None,
                   negative_k: NegativeK = "error") -> Material:
    """A material from a refractiveindex.info document already parsed into Python objects
    (a dict with REFERENCES, COMMENTS, DATA: what a YAML or JSON reader returns); arguments
    and errors as for `parse_yaml`."""
    source = source or name
    if not isinstance(document, dict):
        raise MaterialFileError(f"{source}: expected a YAML mapping with a DATA list")
    data = document.get("DATA")
    if not isinstance(data, list) or not data:
        raise MaterialFileError(f"{source}: missing or empty DATA list")
    reference = plain_text(document.get("REFERENCES"))
    parts: dict[str, Material] = {}
    for index, entry in enumerate(data):
        for label, material in _entry_parts(entry, index, source, name, reference,
                                            negative_k).items():
            if label in parts:
                raise MaterialFileError(f"{source}: more than one DATA entry gives {label}")
            parts[label] = material
    if "n" not in parts:
        raise MaterialFileError(
            f"{source}: the file gives k but no n (a k-only dataset cannot make a complex "
            "index on its own)")
    n_part, k_part = parts["n"], parts.get("k")
    if k_part is None or k_part is n_part:
        return n_part
    try:
        intersect_ranges(n_part.wavelength_range, k_part.wavelength_range)
    except ValueError:
        raise MaterialFileError(
            f"{source}: the ranges of n {n_part.wavelength_range} and k "
            f"{k_part.wavelength_range} (nm) do not overlap") from None
    return Composite(n_part=n_part, k_part=k_part, name=name, reference=reference)


def load_yaml(path: str | os.PathLike, *, name: str | None = None,
              negative_k: NegativeK = "error") -> Material:
    """A material from a refractiveindex.info YAML file (wavelengths converted to nm).

    Args:
        path: the file.
        name: the material's label; default: the file name without extension.
        negative_k: "error" (default) rejects k < 0 in a table; "clip" sets it to 0.

    Raises:
        MaterialFileError: the file is malformed; OSError if it cannot be read.
    """
    path = os.fspath(path)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    label = name or os.path.splitext(os.path.basename(path))[0]
    return parse_yaml(text, name=label, source=path, negative_k=negative_k)


def _split(line: str) -> list[str]:
    for separator in (",", ";", "\t"):
        if separator in line:
            return [f.strip() for f in line.split(separator)]
    return line.split()


def parse_csv(text: str, *, wavelength_unit: str = "nm", name: str = "material",
              source: str | None = None, negative_k: NegativeK = "error") -> Tabulated:
    """A material from CSV text: columns wavelength, n[, k].

    Separators may be commas, semicolons, tabs or spaces. Lines starting with '#' and blank
    lines are skipped, and one header row (non-numeric) is allowed at the top.

    Args:
        text: the table.
        wavelength_unit: unit of the first column: "nm" (default), "um" (or "µm"), or "m".
        name: the material's label.
        source: where the text came from, for error messages (default: `name`).
        negative_k: "error" (default) rejects k < 0; "clip" sets it to 0.

    Raises:
        MaterialFileError: the table is malformed.
    """
    source = source or name
    if wavelength_unit not in _UNITS:
        raise ValueError(f"wavelength_unit must be one of {sorted(_UNITS)}; got "
                         f"{wavelength_unit!r}")
    rows: list[list[float]] = []
    numbers: list[int] = []
    width = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = _split(stripped)
        try:
            values = [float(f) for f in fields]
        except ValueError:
            if not rows and width is None:
                width = len(fields)  # header row
                continue
            raise MaterialFileError(
                f"{source}: row {number} is not numeric: {stripped!r}") from None
        if len(values) not in (2, 3):
            raise MaterialFileError(
                f"{source}: row {number} has {len(values)} columns; expected wavelength, n[, k]")
        if rows and len(values) != len(rows[0]):
            raise MaterialFileError(
                f"{source}: row {number} has {len(values)} columns, earlier rows {len(rows[0])}")
        if not all(math.isfinite(v) for v in values):
            raise MaterialFileError(f"{source}: row {number} is not finite: {stripped!r}")
        rows.append(values)
        numbers.append(number)
    if len(rows) < 2:
        raise MaterialFileError(f"{source}: a table needs at least 2 rows; got {len(rows)}")
    table = _ordered(np.array(rows, dtype=np.float64), np.array(numbers), source)
    w = table[:, 0] * _UNITS[wavelength_unit]
    k = _check_k(w, table[:, 2], source, negative_k) if table.shape[1] == 3 else None
    return tabulated(w, table[:, 1], k, name=name)


def load_csv(path: str | os.PathLike, *, wavelength_unit: str = "nm", name: str | None = None,
             negative_k: NegativeK = "error") -> Tabulated:
    """A material from a CSV file with columns wavelength, n[, k] (see `parse_csv`).

    Args:
        path: the file.
        wavelength_unit: unit of the first column: "nm" (default), "um", or "m".
        name: the material's label; default: the file name without extension.
        negative_k: "error" (default) rejects k < 0; "clip" sets it to 0.
    """
    path = os.fspath(path)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    label = name or os.path.splitext(os.path.basename(path))[0]
    return parse_csv(text, wavelength_unit=wavelength_unit, name=label, source=path,
                     negative_k=negative_k)
