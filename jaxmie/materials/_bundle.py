"""Copy the datasets listed in data/catalogue.yml from a refractiveindex.info checkout.

Usage: python -m jaxmie.materials._bundle <database>/data [--check]

Each dataset is copied unmodified to jaxmie/materials/data/<material>/<dataset>.yml. With
--check nothing is written; the command reports bundled files that differ from the database
(or are missing there). A development tool: it is not imported by jaxmie.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import sys

import yaml

DATA = pathlib.Path(__file__).parent / "data"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=pathlib.Path, help="the database's data/ folder")
    parser.add_argument("--check", action="store_true", help="compare only, write nothing")
    args = parser.parse_args(argv)
    catalogue = yaml.safe_load((DATA / "catalogue.yml").read_text(encoding="utf-8"))
    problems = 0
    for material, entry in catalogue.items():
        for dataset, source in entry["datasets"].items():
            origin = args.database / source
            target = DATA / material / f"{dataset}.yml"
            if not origin.is_file():
                print(f"missing in the database: {source} ({material}/{dataset})")
                problems += 1
                continue
            if args.check:
                if not target.is_file() or target.read_bytes() != origin.read_bytes():
                    print(f"differs: {material}/{dataset} <- {source}")
                    problems += 1
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(origin, target)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
