"""Bundle the datasets listed in jaxmie/materials/data/catalogue.json from a
refractiveindex.info checkout (a maintainer's tool; not part of the installed package).

Usage: python tools/bundle_materials.py <database>/data [--check]

Each dataset's YAML is parsed (PyYAML) and written unchanged in content as JSON to
jaxmie/materials/data/<material>/<dataset>.json, so that jaxmie reads its bundled data with
the standard library alone. With --check nothing is written; the command reports bundled
files whose content differs from the database (or that are missing there).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import yaml

DATA = pathlib.Path(__file__).resolve().parents[1] / "jaxmie" / "materials" / "data"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=pathlib.Path, help="the database's data/ folder")
    parser.add_argument("--check", action="store_true", help="compare only, write nothing")
    args = parser.parse_args(argv)
    catalogue = json.loads((DATA / "catalogue.json").read_text(encoding="utf-8"))
    problems = 0
    for material, entry in catalogue.items():
        for dataset, source in entry["datasets"].items():
            origin = args.database / source
            target = DATA / material / f"{dataset}.json"
            if not origin.is_file():
                print(f"missing in the database: {source} ({material}/{dataset})")
                problems += 1
                continue
            document = yaml.safe_load(origin.read_text(encoding="utf-8"))
            if args.check:
                if (not target.is_file()
                        or json.loads(target.read_text(encoding="utf-8")) != document):
                    print(f"differs: {material}/{dataset} <- {source}")
                    problems += 1
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n",
                              encoding="utf-8")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
