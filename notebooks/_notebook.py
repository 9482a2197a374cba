"""Shared by the notebooks/build_*.py scripts: execute a notebook's cells and write it."""

import pathlib

import nbformat
from nbclient import NotebookClient

HERE = pathlib.Path(__file__).parent
md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell


def execute_and_write(cells: list, name: str, timeout: int = 900) -> None:
    """Run cells on the python3 kernel (working directory notebooks/), save HERE / name."""
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE)}}).execute()
    nbformat.write(nb, HERE / name)
    print("wrote", HERE / name)
