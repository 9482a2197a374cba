"""The documentation site against the code: every public name has an API reference entry
(in docs/api/*.md, and in the built site's object inventory when site/ exists), the
docstring examples run and print what they say, and the site's griffe extension rewrites
docstrings as documented.

The strict site build itself runs in .ci/run (`mkdocs build --strict`, 20-60 s on 2 cores);
here with --runslow (test_strict_build, which also checks the inventory it writes), as do
the Python blocks of the user guide (test_guide_examples_run).
"""

import doctest
import importlib
import importlib.util
import pathlib
import pkgutil
import re
import shutil
import subprocess
import sys
import types
import zlib

import pytest

import jaxmie

ROOT = pathlib.Path(__file__).resolve().parents[1]
API_PAGES = ROOT / "docs" / "api"
# jaxmie re-exports these namespaces; each re-exports from private modules (or lists __all__)
NAMESPACES = ("jaxmie", "jaxmie.materials", "jaxmie.distributions", "jaxmie.ensemble",
              "jaxmie.suspension", "jaxmie.cluster", "jaxmie.design", "jaxmie.learning")


def public_names() -> set[str]:
    """Dotted paths of every public name: a namespace's __all__, or else what it binds
    without a leading underscore, less modules (the namespaces have their own pages)."""
    names = set()
    for namespace in NAMESPACES:
        module = importlib.import_module(namespace)
        exported = getattr(module, "__all__", None)
        if exported is None:
            exported = [n for n, v in vars(module).items()
                        if not n.startswith("_") and not isinstance(v, types.ModuleType)]
        names |= {f"{namespace}.{n}" for n in exported}
    return names


def public_namespaces() -> set[str]:
    """Every importable jaxmie module whose dotted path has no private part."""
    found = {"jaxmie"}
    for info in pkgutil.walk_packages(jaxmie.__path__, "jaxmie."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            found.add(info.name)
    return found


def directives() -> set[str]:
    """The objects that docs/api/*.md renders (mkdocstrings `::: path` lines)."""
    text = "\n".join(p.read_text() for p in API_PAGES.glob("*.md"))
    return set(re.findall(r"^::: ([\w.]+)\s*$", text, flags=re.MULTILINE))


def inventory(path: pathlib.Path) -> set[str]:
    """Python object names in a Sphinx-format objects.inv (as mkdocstrings writes it)."""
    data = path.read_bytes()
    header_end = 0
    for _ in range(4):  # four text lines, then the zlib stream
        header_end = data.index(b"\n", header_end) + 1
    body = zlib.decompress(data[header_end:]).decode()
    return {line.split(" ", 1)[0] for line in body.splitlines() if " py:" in line}


def test_every_namespace_has_a_page():
    assert public_namespaces() == set(NAMESPACES)
    assert directives() >= set(NAMESPACES)


def test_every_public_name_has_a_reference_entry():
    names = public_names()
    assert len(names) > 140
    assert names - directives() == set()
    # and nothing is documented that is not public (a renamed or removed name)
    documented = {d for d in directives() if d not in NAMESPACES}
    assert documented - names == set()


def test_built_inventory_has_every_public_name():
    site = ROOT / "site" / "objects.inv"
    if not site.exists():
        pytest.skip("no built site (mkdocs build --strict writes site/; .ci/run builds it)")
    assert public_names() | set(NAMESPACES) <= inventory(site)


def jaxmie_modules() -> list[str]:
    """Every jaxmie Python module that can be imported without optional build tools (the
    native kernel's shared libraries sit beside them but are not Python modules)."""
    return sorted(info.name for info in pkgutil.walk_packages(jaxmie.__path__, "jaxmie.")
                  if info.name != "jaxmie._native._build"
                  and str(importlib.util.find_spec(info.name).origin).endswith(".py"))


def docstring_tests() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = []
    for name in ["jaxmie", *jaxmie_modules()]:
        module = importlib.import_module(name)
        tests += [t for t in finder.find(module, name) if t.examples]
    return tests


def test_docstring_examples_exist():
    names = {t.name.rsplit(".", 1)[-1] for t in docstring_tests()}
    assert {"efficiencies", "amplitudes", "Sphere", "CoreShell", "get"} <= names


@pytest.mark.parametrize("test", docstring_tests(), ids=lambda t: t.name)
def test_docstring_example(test):
    # x64 is on (tests/conftest.py), as the examples' printed digits assume
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=lambda text: sys.stdout.write(text))
    assert runner.failures == 0, f"{runner.failures} failing example(s) in {test.name}"


@pytest.mark.slow
def test_strict_build(tmp_path):
    mkdocs = shutil.which("mkdocs")
    if mkdocs is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    subprocess.run([mkdocs, "build", "--strict", "--site-dir", str(tmp_path)], cwd=ROOT,
                   check=True, capture_output=True)
    assert public_names() | set(NAMESPACES) <= inventory(tmp_path / "objects.inv")


@pytest.mark.slow
@pytest.mark.parametrize("page", sorted(p.relative_to(ROOT / "docs").as_posix()
                                        for p in (ROOT / "docs").rglob("*.md")
                                        if "```python" in p.read_text()))
def test_guide_examples_run(page):
    """The Python blocks of each documentation page run in order, as a reader would paste
    them (the API pages' examples are the doctests above)."""
    text = (ROOT / "docs" / page).read_text()
    namespace: dict = {}
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL):
        exec(compile(block, page, "exec"), namespace)


def load_docstring_extension() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        "griffe_docstrings", ROOT / "docs" / "_ext" / "griffe_docstrings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docstring_extension_rewrites():
    pytest.importorskip("griffe")
    ext = load_docstring_extension()
    text = ("Args:\n    particle: batch shape P. wavelength: nm, shape W.\n"
            "    eta0, polydispersity0: starting values\n        of the fit.\n")
    split = ext.split_grouped_entries(
        ext.split_compact_entries(text, {"particle", "wavelength", "eta0", "polydispersity0"}))
    assert split.splitlines() == [
        "Args:", "    particle: batch shape P.", "    wavelength: nm, shape W.",
        "    eta0: starting values", "        of the fit.",
        "    polydispersity0: starting values", "        of the fit."]
    math = ext.rst_math_to_arithmatex("Drude:\n\n.. math::\n    a = b\n\nwith :math:`x^2`.")
    assert "$$\na = b\n$$" in math and "$x^2$" in math
    prose = ext.escape_prose("mean <C_ext> and [f](x), not `<code>`\n>>> a < b")
    assert prose == "mean &lt;C_ext> and [f]&#40;x), not `<code>`\n>>> a < b"
