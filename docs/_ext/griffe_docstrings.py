"""Griffe extension for jaxmie's docstrings, applied by the documentation site only.

- Math is written as reStructuredText (``.. math::`` blocks and ``:math:`...``` roles); it is
  rewritten as the ``$$ ... $$`` and ``$...$`` spans that pymdownx.arithmatex hands to MathJax.
- Google-style sections list parameters that share a description on one line
  (``eta0, polydispersity0: starting values``); each name gets its own entry with that
  description, so griffe matches every name with the signature (and still warns, in the strict
  build, about a documented name that is not a parameter).
- Angle brackets in the text (``<C_ext>``, ``"<material>/<dataset>"``) are averages and
  placeholders, not HTML, and ``[f](x)`` is a function of x, not a link: outside code spans
  and math both are escaped.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":math:`([^`]+)`")
# code spans, math spans, and the text between them
_PROTECTED = re.compile(r"(`[^`]*`|\$[^$]*\$)")
_SECTIONS = ("Args:", "Arguments:", "Parameters:", "Attributes:", "Other Parameters:")
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
    """Escapes '<' and '](' in prose (not in code spans, math, doctest lines or code blocks)."""
    out = []
    fenced = False
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("```") or stripped == "$$":
            fenced = not fenced
        if fenced or stripped == "$$" or stripped.startswith((">>>", "...")):
            out.append(line)
            continue
        parts = _PROTECTED.split(line)
        out.append("".join(p if k % 2 else p.replace("<", "&lt;").replace("](", "]&#40;")
                           for k, p in enumerate(parts)))
    return "\n".join(out)


class DocstringMarkup(griffe.Extension):
    """Rewrites the math, grouped entries and angle brackets of every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            text = split_grouped_entries(obj.docstring.value)
            obj.docstring.value = escape_prose(rst_math_to_arithmatex(text))
