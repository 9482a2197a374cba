"""Plots of the stored benchmark results (bench/results/*.json) for the documentation site.

    python docs/benchmarks/plot.py      # rewrites docs/benchmarks/*.png (needs matplotlib)

Only reads what bench/ measured; run it again after a benchmark run updates the JSON files.
"""

import json
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
HERE = Path(__file__).resolve().parent


def _load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def core_shell_bars() -> None:
    """Medians of every code on the 256 core-shell x 256 wavelengths workload (CPU)."""
    rows = _load("cpu-2core.json")["sections"]["core-shell 256 x 256"]
    fig, axes = plt.subplots(2, 1, figsize=(8, 6))
    for ax, kind in zip(axes, ("forward", "gradient")):
        other = "gradient" if kind == "forward" else "forward+backward) never"
        picked = [r for r in rows if kind in r["name"] and other not in r["name"]
                  and "compile" not in r["name"] and "first call" not in r["name"]]
        names = [r["name"].replace(" (steady state)", "").replace(" (forward+backward)", "")
                 .replace(f" {kind}", "") for r in picked]
        seconds = [r["seconds"] for r in picked]
        colors = ["tab:blue" if n.startswith("jaxmie") else "tab:gray" for n in names]
        ax.barh(names, seconds, color=colors)
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_xlabel("median time (s)")
        ax.set_title(f"256 core-shell x 256 wavelengths, {kind}")
    fig.suptitle("2-core VM, float64 (bench/results/cpu-2core.json)", fontsize=9)
    fig.tight_layout()
    fig.savefig(HERE / "core-shell-256x256.png", dpi=110)
    plt.close(fig)


def per_pair_cost() -> None:
    """Time per particle-wavelength pair against batch size, CPU and H100."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    machines = (("cpu-2core.json", "2-core CPU", "-"),
                ("h100.json", "H100 machine (jaxmie on the GPU, peers on its CPU)", "--"))
    for name, label, style in machines:
        rows = _load(name)["sections"]["per-evaluation cost vs batch size"]
        codes = [k for k in rows[0] if k != "N"]
        for code in codes:
            n = [r["N"] for r in rows if code in r]
            t = [r[code]["median_s"] / r["N"] for r in rows if code in r]
            ax.loglog(n, t, style, marker="o", label=f"{code}, {label}")
    ax.set_xlabel("particle-wavelength pairs per call")
    ax.set_ylabel("median time per pair (s)")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(HERE / "per-pair-cost.png", dpi=110)
    plt.close(fig)


def cluster_scaling() -> None:
    """Coupled-dipole and lmax = 4 cluster times against the number of spheres."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, name, title in ((axes[0], "cluster-cpu-2core.json", "coupled dipoles (lmax = 1)"),
                            (axes[1], "cluster-cpu-2core-lmax4.json", "multipoles, lmax = 4")):
        points = _load(name)["points"]
        for method in ("gmres", "dense", "treams"):
            for mode, style in (("forward", "-"), ("gradient", "--")):
                sel = sorted((p["n"], p["median_s"]) for p in points
                             if p.get("method") == method and p.get("mode") == mode
                             and p.get("median_s") is not None)
                if sel:
                    ax.loglog(*zip(*sel), style, marker="o", label=f"{method} {mode}")
        ax.set_title(title)
        ax.set_xlabel("spheres N")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("median time (s)")
    fig.suptitle("2-core VM, shared (bench/results/cluster-*.json)", fontsize=9)
    fig.tight_layout()
    fig.savefig(HERE / "cluster-scaling.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    core_shell_bars()
    per_pair_cost()
    cluster_scaling()
    shutil.copyfile(RESULTS / "ensemble-cpu-2core.png", HERE / "ensemble-throughput.png")
