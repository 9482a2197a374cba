"""Fitting many scattering curves of dense suspensions: `jaxmie.suspension.fit_suspension`.

Run from the repository root:

    python bench/bench_suspension_fit.py                   # 300 curves, PY mixture
    python bench/bench_suspension_fit.py --closure rfa --curves 64
    python bench/bench_suspension_fit.py --jaxmie-root DIR # time another checkout (e.g. main)

What is measured: (eta, sigma) fits of N molecular-dynamics curves of Ding, Tung, Chen & Do
(2025) (the normal-distribution training set in ../shared/ding/, or the 36-curve test fixture
tests/reference/ding_md_subset.npz repeated when that is absent), 100 q points each, the
mixture model (24 components), 30 Levenberg-Marquardt steps and the Laplace covariances. The
first call (compilation and one run) is reported apart from the median of the timed calls
after it (bench/common.py ``measure``); a second call of the same shape must not compile
again, which the first timed call shows. The RMSE of the recovered (eta, sigma) against the
simulation's values is printed as a check that the timed work is the real fit. Results go to
bench/results/suspension-fit-<tag>.json and .log (the printed report).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from common import machine_info, measure

RESULTS = os.path.join(HERE, "results")
SHARED = os.path.join(ROOT, "..", "shared", "ding", "normal_train.npz")
FIXTURE = os.path.join(ROOT, "tests", "reference", "ding_md_subset.npz")


def _curves(count: int, source: str | None):
    """(q, intensities (N, Q), eta (N,), sigma (N,)) of the normal-distribution MD set."""
    path = source or (SHARED if os.path.exists(SHARED) else None)
    if path is not None:
        data = np.load(path)
        rng = np.random.default_rng(0)
        pick = rng.choice(len(data["params"]), size=count, replace=False)
        return (data["q"], 10.0 ** data["log10Iq"][pick].astype(float),
                data["params"][pick, 2], data["params"][pick, 3])
    data = np.load(FIXTURE)
    reps = -(-count // 36)
    return (data["q"], np.tile(10.0 ** data["normal_log10Iq"].astype(float), (reps, 1))[:count],
            np.tile(data["normal_params"][:, 0], reps)[:count],
            np.tile(data["normal_params"][:, 1], reps)[:count])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--curves", type=int, default=300)
    parser.add_argument("--closure", default="percus_yevick")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="default: fit_suspension's")
    parser.add_argument("--source", default=None, help="an npz of Ding et al.'s format")
    parser.add_argument("--jaxmie-root", default=ROOT)
    parser.add_argument("--tag", default="cpu-2core")
    args = parser.parse_args()
    sys.path.insert(0, os.path.abspath(args.jaxmie_root))
    import jax

    jax.config.update("jax_enable_x64", True)
    import jaxmie as jm

    q, intensity, eta, sigma = _curves(args.curves, args.source)
    kwargs = {k: v for k, v in (("batch_size", args.batch_size), ("steps", args.steps))
              if v is not None}

    def fit():
        return jm.suspension.fit_suspension(
            q, intensity, model="mixture", closure=args.closure,
            distribution=lambda s: jm.distributions.Normal(mean_radius=0.5, std=0.5 * s),
            **kwargs)

    t0 = time.perf_counter()
    result = fit()
    jax.block_until_ready(result.eta)
    first = time.perf_counter() - t0
    timing = measure(lambda: fit().eta, warmup=0, repeats=args.repeats)
    median = float(np.median(timing.times))
    rmse_eta = float(np.sqrt(np.mean((np.asarray(result.eta) - eta) ** 2)))
    rmse_sigma = float(np.sqrt(np.mean((np.asarray(result.polydispersity) - sigma) ** 2)))
    report = {
        "curves": args.curves, "q_points": int(q.size), "closure": args.closure,
        "batch_size": args.batch_size, "steps": args.steps, "jaxmie": jm.__file__,
        "first_call_s": first, "compile_s_estimate": first - median,
        "median_s": median, "times_s": timing.times,
        "per_curve_ms": 1e3 * median / args.curves,
        "rmse_eta": rmse_eta, "rmse_sigma": rmse_sigma,
        "load_average": os.getloadavg(), "machine": machine_info(),
    }
    lines = [
        f"fit_suspension, mixture ({args.closure}), {args.curves} curves x {q.size} q, "
        f"steps {args.steps or 'default'}, "
        f"jaxmie from {os.path.dirname(jm.__file__)}",
        f"  first call (compile + run): {first:8.2f} s",
        f"  median of {len(timing.times)} later calls: {median:8.2f} s "
        f"({1e3 * median / args.curves:.1f} ms per curve; times {np.round(timing.times, 2)})",
        f"  compile time (first - median): {first - median:8.2f} s",
        f"  recovery RMSE: eta {rmse_eta:.4f}, sigma {rmse_sigma:.4f}",
        f"  load average at the end: {np.round(os.getloadavg(), 2)}",
    ]
    print("\n".join(lines))
    os.makedirs(RESULTS, exist_ok=True)
    name = f"suspension-fit-{args.closure}-{args.tag}"
    with open(os.path.join(RESULTS, name + ".json"), "w") as fh:
        json.dump(report, fh, indent=1)
    with open(os.path.join(RESULTS, name + ".log"), "a") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
