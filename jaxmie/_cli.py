"""The `jaxmie` command: the spectrum of one layered sphere, as CSV and PNG.

    jaxmie                                   # built-in default particle
    jaxmie --core Au:20 --shell Si:100 --env 1.33
    jaxmie --layer 1.45:50 --layer 0.2+3j:55 --wavelengths 400:900:501 --out spectra/

Each layer is INDEX:RADIUS with the radius in nm (outer radius of that layer) and the index
either a complex number (1.5, 0.2+3j) or a material name from jaxmie.materials.
"""

from __future__ import annotations

import argparse
import cmath
import csv
import pathlib
import sys
import time
from collections.abc import Sequence

import numpy as np

DEFAULT_LAYERS = ("Au:20", "Si:100")  # PyMieDiff's Fig. 3a particle
FALLBACK_LAYERS = ("0.5+2.5j:20", "3.9+0.02j:100")  # constant indices if no material data
FIELDS = ("q_ext", "q_sca", "q_abs", "q_back", "q_fwd", "g")


def _number(text: str) -> complex | None:
    """text as a complex number ('1.5', '0.2+3j', '0.2+3i', 'inf'), or None."""
    for candidate in (text, text.replace("i", "j")):
        try:
            return complex(candidate)
        except ValueError:
            continue
    return None


def parse_index(text: str):
    """A complex index from '1.5', '0.2+3j', '0.2+3i', or a material from its name."""
    value = _number(text)
    if value is not None:
        if not cmath.isfinite(value):
            raise argparse.ArgumentTypeError(f"index {text!r} is not a finite number")
        return value
    from . import materials

    try:
        return materials.get(text)
    except (KeyError, ValueError) as err:
        raise argparse.ArgumentTypeError(f"unknown index or material {text!r}: {err}") from err


def parse_layer(text: str):
    """(index or material, radius in nm) from 'INDEX:RADIUS'."""
    index, sep, radius = text.rpartition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"layer {text!r} must be INDEX:RADIUS, e.g. 1.5:50")
    try:
        radius_nm = float(radius)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"layer {text!r}: radius {radius!r} is not a number"
                                         ) from err
    return parse_index(index), radius_nm


def parse_wavelengths(text: str) -> np.ndarray:
    """'START:STOP:COUNT' (nm) or a comma-separated list."""
    try:
        if ":" in text:
            start, stop, count = text.split(":")
            if int(count) < 1:
                raise argparse.ArgumentTypeError(
                    f"wavelengths {text!r}: COUNT must be at least 1; got {count}")
            values = np.linspace(float(start), float(stop), int(count))
        else:
            values = np.array([float(v) for v in text.split(",")])
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"wavelengths {text!r} must be START:STOP:COUNT or a list like 450,550,650") from err
    if not np.all(np.isfinite(values) & (values > 0)):
        raise argparse.ArgumentTypeError(
            f"wavelengths {text!r} must be finite and > 0 nm; got {values[~(values > 0)][:3]}")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxmie", description="Mie spectrum of a layered sphere (efficiencies vs wavelength).",
        epilog="Layers run from the core outwards; radii are outer radii in nm.")
    parser.add_argument("--core", type=parse_layer, help="core as INDEX:RADIUS")
    parser.add_argument("--shell", type=parse_layer, action="append", default=[],
                        help="a shell as INDEX:RADIUS (repeat for more shells)")
    parser.add_argument("--layer", type=parse_layer, action="append", default=[],
                        help="a layer as INDEX:RADIUS, inner to outer "
                             "(alternative to --core/--shell)")
    parser.add_argument("--env", type=float, default=1.0, help="host refractive index (default 1)")
    parser.add_argument("--wavelengths", type=parse_wavelengths, default="400:1000:301",
                        help="START:STOP:COUNT in nm or a list (default 400:1000:301)")
    parser.add_argument("--n-max", type=int, default=None,
                        help="number of orders (default: jaxmie.n_max_for, converged)")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("jaxmie-out"),
                        help="output folder (default ./jaxmie-out)")
    parser.add_argument("--no-plot", action="store_true", help="write the CSV only")
    return parser


def _layers(args, parser) -> list:
    layers = ([args.core] if args.core else []) + args.shell
    if layers and args.layer:
        parser.error("give either --core/--shell or --layer, not both")
    layers = layers or args.layer
    if layers:
        return layers
    try:
        return [parse_layer(text) for text in DEFAULT_LAYERS]
    except (argparse.ArgumentTypeError, ImportError):
        return [parse_layer(text) for text in FALLBACK_LAYERS]


def _describe(index) -> str:
    return getattr(index, "name", None) or str(index)


def write_csv(path: pathlib.Path, wavelengths: np.ndarray, values: dict) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["wavelength_nm", *FIELDS])
        for i, wl in enumerate(wavelengths):
            writer.writerow([f"{wl:.6g}", *(f"{values[f][i]:.12e}" for f in FIELDS)])


def write_plot(path: pathlib.Path, wavelengths: np.ndarray, values: dict, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_g) = plt.subplots(2, 1, figsize=(7, 6), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 1]})
    for field, label in [("q_ext", "$Q_{ext}$"), ("q_sca", "$Q_{sca}$"), ("q_abs", "$Q_{abs}$"),
                         ("q_back", "$Q_{back}$")]:
        ax.plot(wavelengths, values[field], label=label)
    ax.set_ylabel("efficiency")
    ax.legend()
    ax.set_title(title, fontsize=9)
    ax_g.plot(wavelengths, values["g"], color="k")
    ax_g.set_ylabel("g")
    ax_g.set_xlabel("wavelength (nm)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    layers = _layers(args, parser)

    try:  # before the computation: a bad folder should not cost the user a run
        args.out.mkdir(parents=True, exist_ok=True)
        probe = args.out / ".jaxmie-write-test"
        probe.touch()
        probe.unlink()
    except OSError as err:
        parser.error(f"--out {str(args.out)!r} is not a writable folder: {err.strerror}")

    import jax

    import jaxmie as jm

    jax.config.update("jax_enable_x64", True)  # the command computes in float64
    wavelengths = np.asarray(args.wavelengths, dtype=float)
    start = time.perf_counter()
    try:
        particle = jm.Multilayer(radii=[r for _, r in layers], n=[n for n, _ in layers])
        result = jm.efficiencies(particle, wavelengths, n_env=args.env, n_max=args.n_max)
        values = {f: np.asarray(getattr(result, f)) for f in FIELDS}
    except ValueError as err:
        parser.error(str(err))
    elapsed = time.perf_counter() - start

    description = " / ".join(f"{_describe(n)} to {r:g} nm" for n, r in layers)
    title = f"{description} in n_env = {args.env:g}"
    csv_path = args.out / "spectrum.csv"
    write_csv(csv_path, wavelengths, values)
    print(f"jaxmie: {title}")
    print(f"  {len(wavelengths)} wavelengths {wavelengths[0]:g}-{wavelengths[-1]:g} nm, "
          f"computed in {elapsed:.2f} s (including compilation)")
    peak = int(np.argmax(values["q_ext"]))
    print(f"  peak Q_ext = {values['q_ext'][peak]:.6g} at {wavelengths[peak]:g} nm; "
          f"Q_sca there = {values['q_sca'][peak]:.6g}, Q_abs = {values['q_abs'][peak]:.6g}")
    print(f"  wrote {csv_path}")
    if not args.no_plot:
        png_path = args.out / "spectrum.png"
        try:
            write_plot(png_path, wavelengths, values, title)
            print(f"  wrote {png_path}")
        except ImportError:
            print("  no plot: matplotlib is not installed (pip install 'jaxmie[plot]')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
