"""Griffe extension for jaxmie's docstrings, applied by the documentation site only.

- Math is written as reStructuredText (``.. math::`` blocks and ``:math:`...``` roles); it is
  rewritten as the ``$$ ... $$`` and ``$...$`` spans that pymdownx.arithmatex hands to MathJax.
- Google-style sections list parameters that share a description on one line
  (``eta0, polydispersity0: starting values``); each name gets its own entry with that
  description, so griffe matches every name with the signature (and still warns, in the strict
  build, about a documented name that is not a parameter). Compact entries that document
  several parameters in one line (``particle: batch shape P. wavelength: nm, shape W.``) are
  split where a sentence ends and the object's next parameter or attribute name follows.
- Angle brackets in the text (``<C_ext>``, ``"<material>/<dataset>"``) are averages and
  placeholders, not HTML, and ``[f](x)`` is a function of x, not a link: outside code spans
  and math both are escaped.
- A References section lists one reference per sentence-ending line; each such line ends
  with an HTML line break, so that the references do not run together.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":math:`([^`]+)`")
# code spans, math spans, and the text between them
_PROTECTED = re.compile(r"(`[^`]*`|\$[^$]*\$)")
_SECTIONS = ("Args:", "Arguments:", "Parameters:", "Attributes:", "Other Parameters:")
_ENTRY = re.compile(r"^(\s+)([A-Za-z_]\w*(?:,\s*[A-Za-z_]\w*)*):(\s.*|)$")
_NEXT_ENTRY = re.compile(r"\.\s+([A-Za-z_]\w*(?:,\s*[A-Za-z_]\w*)*):\s")
_GROUPED = re.compile(r"^(\s+)([A-Za-z_]\w*(?:,\s*[A-Za-z_]\w*)+):(\s.*|)$")


def rst_math_to_arithmatex(text: str) -> str:
    """Rewrites each ``.. math::`` block (the indented lines below it) as a ``$$`` block at
    the directive's indentation, and each ``:math:`x``` role as ``$x$``."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith(".. math::"):
            indent = line[: len(line) - len(stripped)]
            inline = stripped[len(".. math::"):].strip()
            body = [inline] if inline else []
            i += 1
            while i < len(lines) and (
                not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)
            ):
                body.append(lines[i].strip())
                i += 1
            while body and not body[-1]:
                body.pop()
            while body and not body[0]:
                body.pop(0)
            out += [f"{indent}$$", *(f"{indent}{b}" for b in body if b), f"{indent}$$", ""]
            continue
        out.append(_ROLE.sub(lambda m: f"${m.group(1)}$", line))
        i += 1
    return "\n".join(out)


def split_compact_entries(text: str, names: set[str]) -> str:
    """Starts a new entry where a sentence of an entry (or of its continuation lines) ends and
    one of `names` (the object's parameters and attributes) follows with a colon."""
    out: list[str] = []
    in_section = False
    indent = None
    for line in text.splitlines():
        if line.strip() in _SECTIONS:
            in_section, indent = True, None
        elif line.strip() and not line[0].isspace():
            in_section = False
        if not in_section or not line.strip():
            out.append(line)
            continue
        entry = _ENTRY.match(line)
        if entry is not None and (indent is None or len(entry.group(1)) == len(indent)):
            indent = entry.group(1)
        while indent is not None:
            found = next((m for m in _NEXT_ENTRY.finditer(line)
                          if set(re.split(r",\s*", m.group(1))) <= names), None)
            if found is None:
                break
            out.append(line[: found.start() + 1])
            line = indent + line[found.start(1):]
        out.append(line)
    return "\n".join(out)


def split_grouped_entries(text: str) -> str:
    """Gives each name of a grouped entry (``a, b: text``, with its continuation lines) in a
    parameter or attribute section an entry of its own with the same text."""
    lines = text.splitlines()
    out: list[str] = []
    in_section = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() in _SECTIONS:
            in_section = True
        elif line.strip() and not line[0].isspace():
            in_section = False
        grouped = _GROUPED.match(line) if in_section else None
        if grouped is None:
            out.append(line)
            i += 1
            continue
        indent, names, rest = grouped.groups()
        body = [rest]
        i += 1
        while i < len(lines) and lines[i].strip() and (
            len(lines[i]) - len(lines[i].lstrip()) > len(indent)
        ):
            body.append("\n" + lines[i])
            i += 1
        out.extend(f"{indent}{name}:{''.join(body)}" for name in re.split(r",\s*", names))
    return "\n".join(out)


def escape_prose(text: str) -> str:
    """Escapes '<' and '](' in prose (not in code spans, math, doctest examples with their
    output, or code blocks)."""
    out = []
    fenced = example = False
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("```") or stripped == "$$":
            fenced = not fenced
        example = stripped.startswith(">>>") or (example and bool(stripped))
        if fenced or example or stripped == "$$":
            out.append(line)
            continue
        parts = _PROTECTED.split(line)
        out.append("".join(p if k % 2 else p.replace("<", "&lt;").replace("](", "]&#40;")
                           for k, p in enumerate(parts)))
    return "\n".join(out)


def break_references(text: str) -> str:
    """Ends each line of a References section that ends a sentence with a line break."""
    out = []
    in_references = False
    for line in text.splitlines():
        if line.strip() == "References:":
            in_references = True
        elif line.strip() and not line[0].isspace():
            in_references = False
        elif in_references and line.rstrip().endswith("."):
            line = line.rstrip() + "<br>"
        out.append(line)
    return "\n".join(out)


class DocstringMarkup(griffe.Extension):
    """Rewrites the math, grouped entries and angle brackets of every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            names = set(obj.members)
            if isinstance(obj, (griffe.Function, griffe.Class)):
                names |= {p.name for p in obj.parameters}
            text = split_compact_entries(obj.docstring.value, names)
            text = split_grouped_entries(text)
            text = escape_prose(rst_math_to_arithmatex(text))
            obj.docstring.value = break_references(text)
