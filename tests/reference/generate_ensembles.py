#!/usr/bin/env python
"""Regenerate tests/reference/ensembles.npz (run: python tests/reference/generate_ensembles.py).

Size-distribution averages for tests/test_defaults.py, computed without jaxmie:

- the integrand comes from scattnlay 2.4's `scattcoeffs` (a_n, b_n in double precision, its
  own truncation) put through the formulas of generate.py (np_observables: C = pi r^2 Q,
  S1, S2 from pi_n, tau_n), or, for the decoupling averages, from the RGD amplitude written
  out in NumPy;
- the densities come from scipy.stats (lognorm, gamma, norm), on ranges cut where
  scipy's quantiles leave 1e-15 of the particles (the r^3-weighted ones for the upper end);
- the integrals, in ln r: for the absorbing cases scipy.integrate.quad_vec (adaptive
  Gauss-Kronrod, QUADPACK's scheme), requested to 1e-9 of every component (each scaled by
  its magnitude from a coarse first pass) and checked against a first integration at 1e-8;
  for the (nearly) lossless ones, whose resonances are narrower than quad_vec's error
  estimate can see (it stops 2.7e-5 off on the water cloud), a dense composite 16-point
  Gauss-Legendre rule of 2^16 and of 2^18 equal panels with scattnlay's vectorised call.
  `ref_self_err` is the largest relative difference between the two integrations; a case
  is kept only if it is below 1e-7.

Arrays per optics case (n cases, T angles): kind (str), family (str), params (n, 2),
m (complex), wavelength, n_env, theta (T,) radians; c_ext, c_sca, c_abs, c_back, g, area,
volume (n,), s11 (n, T) (<S11>, Bohren & Huffman units; c_back and s11 are NaN for the
nearly lossless cases, see OPTICS), ref_self_err (n,).
Decoupling cases (prefix rgd_): rgd_params (k, 2) Schulz or log-normal, rgd_family,
rgd_q (Q,), rgd_mean_f, rgd_mean_f2 (k, Q), rgd_mean_v2, rgd_mean_r (k,).
About 25 minutes on 2 cores.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import scipy.integrate as si
import scipy.stats as st

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from generate import np_observables  # noqa: E402

THETA = np.deg2rad([0.0, 30.0, 90.0, 150.0, 180.0])
TAIL = 1e-15
# (kind, family, params, m, wavelength nm, n_env, with <C_back> and <S11>). For the (nearly)
# lossless cases those are left out (their resonances near 180 degrees are so narrow and so
# tall that no rule here reaches 1e-9 in an hour), and the cross sections and g come from
# the dense rule (dense_case).
OPTICS = [
    ("water cloud", "lognormal", (1000.0, 0.35), 1.333 + 1e-8j, 550.0, 1.0, False),
    ("TiO2 pigment", "lognormal", (120.0, 0.4), 2.9 + 1e-4j, 450.0, 1.5, True),
    ("mineral dust", "lognormal", (300.0, 0.6), 1.53 + 0.008j, 550.0, 1.0, True),
    ("narrow lossless", "lognormal", (2000.0, 0.05), 1.5 + 0j, 500.0, 1.0, False),
    ("wide gamma", "gamma", (3000.0, 0.1), 1.33 + 1e-6j, 500.0, 1.0, False),
    ("latex", "normal", (500.0, 50.0), 1.59 + 0j, 633.0, 1.33, True),
]
RGD = [("schulz", (30.0, 0.12)), ("lognormal", (50.0, 0.5))]
RGD_Q = np.geomspace(1e-3, 0.5, 24)


def frozen(family, params):
    """scipy.stats distribution of the radius (nm) and the same weighted by r^3."""
    if family == "lognormal":
        median, sigma = params
        return (st.lognorm(s=sigma, scale=median),
                st.lognorm(s=sigma, scale=median * np.exp(3 * sigma**2)))
    if family == "gamma":  # Hansen & Travis: r_eff = a, v_eff = b
        a, b = params
        k, scale = (1 - 2 * b) / b, a * b
        return st.gamma(k, scale=scale), st.gamma(k + 3, scale=scale)
    if family == "schulz":  # number mean and polydispersity std / mean
        mean, p = params
        k = 1 / p**2
        return st.gamma(k, scale=mean / k), st.gamma(k + 3, scale=mean / k)
    if family == "normal":
        mean, std = params
        return st.norm(mean, std), st.norm(mean + 3 * std**2 / mean, std)
    raise ValueError(family)


def log_range(family, params):
    number, volume = frozen(family, params)
    lo = max(number.ppf(TAIL / 2), 1e-3 * number.median())
    return np.log(lo), np.log(volume.isf(TAIL / 2))


def integrate(f, lo, hi, components, relative_to=None):
    """<f> over [lo, hi] in ln r with its density last; scaled, two tolerances.
    relative_to[i] = j scales component i like component j (c_abs like c_ext)."""
    grid = np.linspace(lo, hi, 65)
    scale = np.maximum(np.max(np.abs(np.array([f(t) for t in grid])), axis=0), 1e-300)
    for i, j in (relative_to or {}).items():
        scale[i] = scale[j]
    results = []
    for eps in (1e-8, 1e-9):
        value, _ = si.quad_vec(lambda t: f(t) / scale, lo, hi, epsrel=eps, epsabs=0,
                               norm="max", limit=200000)
        results.append(value * scale)
    coarse, fine = results
    averages = fine[:-1] / fine[-1]
    self_err = np.max(np.abs(coarse[:-1] / coarse[-1] - averages)
                      / np.maximum(np.abs(averages), 1e-300))
    assert len(averages) == components
    return averages, float(self_err)


DENSE_PANELS = (2**16, 2**18)


def dense_case(case):
    """<C_ext>, <C_sca>, <C_abs>, g, area, volume of a non-angular case by the dense rule."""
    kind, family, params, m, wavelength, n_env, _ = case
    from scattnlay import scattnlay

    t0 = time.time()
    number, _ = frozen(family, params)
    lo, hi = log_range(family, params)
    k = 2 * np.pi * n_env / wavelength
    u, w = np.polynomial.legendre.leggauss(16)
    results = []
    for panels in DENSE_PANELS:
        edges = np.linspace(lo, hi, panels + 1)
        t = (edges[:-1, None] + np.diff(edges)[:, None] * (u + 1) / 2).ravel()
        r = np.exp(t)
        weight = (np.diff(edges)[:, None] * w / 2).ravel() * number.pdf(r) * r
        sums = np.zeros(6)
        for start in range(0, r.size, 65536):
            rr = r[start:start + 65536]
            x = (k * rr)[:, None]
            out = scattnlay(x, np.full(x.shape, m / n_env, complex))
            q_ext, q_sca, q_abs, g = out[1], out[2], out[3], out[6]
            area = np.pi * rr**2
            values = np.stack([q_ext * area, q_sca * area, q_abs * area, g * q_sca * area,
                               area, 4 / 3 * np.pi * rr**3])
            sums += values @ weight[start:start + 65536]
        results.append(sums / np.sum(weight))
    coarse, fine = results
    self_err = float(np.max(np.abs(coarse - fine) / np.abs(fine)[[0, 1, 0, 3, 4, 5]]))
    c_ext, c_sca, c_abs, g_c_sca, area, volume = fine
    print(f"{kind:16s} self-consistency {self_err:.1e} ({time.time() - t0:.0f} s)", flush=True)
    return dict(c_ext=c_ext, c_sca=c_sca, c_abs=c_abs, c_back=np.nan, g=g_c_sca / c_sca,
                s11=np.full(len(THETA), np.nan), area=area, volume=volume,
                ref_self_err=self_err)


def optics_case(case):
    kind, family, params, m, wavelength, n_env, angular = case
    if not angular:
        return dense_case(case)
    from scattnlay import scattcoeffs

    t0 = time.time()
    number, _ = frozen(family, params)
    lo, hi = log_range(family, params)
    k = 2 * np.pi * n_env / wavelength

    def f(t):
        r = np.exp(t)
        x = k * r
        terms, a, b = scattcoeffs(np.array([x]), np.array([m / n_env]))
        o = np_observables(np.asarray(a)[:terms], np.asarray(b)[:terms], x, THETA)
        area = np.pi * r**2
        s11 = (np.abs(o["s1"]) ** 2 + np.abs(o["s2"]) ** 2) / 2
        values = [o["q_ext"] * area, o["q_sca"] * area, o["q_abs"] * area, o["q_back"] * area,
                  o["g"] * o["q_sca"] * area, *s11, area, 4 / 3 * np.pi * r**3, 1.0]
        return np.array(values) * number.pdf(r) * r  # density in ln r

    avg, self_err = integrate(f, lo, hi, 5 + len(THETA) + 2, relative_to={2: 0})
    c_ext, c_sca, c_abs, c_back, g_c_sca = avg[:5]
    out = dict(c_ext=c_ext, c_sca=c_sca, c_abs=c_abs, c_back=c_back, g=g_c_sca / c_sca,
               s11=avg[5:5 + len(THETA)], area=avg[-2], volume=avg[-1], ref_self_err=self_err)
    print(f"{kind:16s} self-consistency {self_err:.1e} ({time.time() - t0:.0f} s)", flush=True)
    return out


def rgd_amplitude(qr):
    qr = np.asarray(qr, float)
    small = qr < 1e-2
    safe = np.where(small, 1.0, qr)
    closed = 3 * (np.sin(safe) - safe * np.cos(safe)) / safe**3
    series = 1 - qr**2 / 10 + qr**4 / 280
    return np.where(small, series, closed)


def rgd_case(case):
    family, params = case
    number, _ = frozen(family, params)
    lo, hi = log_range(family, params)

    def f(t):
        r = np.exp(t)
        amp = r**3 * rgd_amplitude(RGD_Q * r)
        return np.concatenate([amp, amp**2, [r**6, r, 1.0]]) * number.pdf(r) * r

    avg, self_err = integrate(f, lo, hi, 2 * RGD_Q.size + 2)
    print(f"RGD {family} self-consistency {self_err:.1e}", flush=True)
    return dict(mean_f=avg[:RGD_Q.size], mean_f2=avg[RGD_Q.size:2 * RGD_Q.size],
                mean_v2=avg[-2], mean_r=avg[-1], self_err=self_err)


def main():
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        optics = list(pool.map(optics_case, OPTICS))
        rgd = list(pool.map(rgd_case, RGD))
    assert all(o["ref_self_err"] < 1e-7 for o in optics), [o["ref_self_err"] for o in optics]
    assert all(r["self_err"] < 1e-7 for r in rgd)
    arrays = dict(
        kind=np.array([c[0] for c in OPTICS]), family=np.array([c[1] for c in OPTICS]),
        params=np.array([c[2] for c in OPTICS]), m=np.array([c[3] for c in OPTICS]),
        wavelength=np.array([c[4] for c in OPTICS]), n_env=np.array([c[5] for c in OPTICS]),
        theta=THETA,
        rgd_family=np.array([c[0] for c in RGD]), rgd_params=np.array([c[1] for c in RGD]),
        rgd_q=RGD_Q,
    )
    for key in ("c_ext", "c_sca", "c_abs", "c_back", "g", "area", "volume", "ref_self_err"):
        arrays[key] = np.array([o[key] for o in optics])
    arrays["s11"] = np.stack([o["s11"] for o in optics])
    for key in ("mean_f", "mean_f2", "mean_v2", "mean_r"):
        arrays[f"rgd_{key}"] = np.array([r[key] for r in rgd])
    np.savez_compressed(os.path.join(HERE, "ensembles.npz"), **arrays)
    print("wrote ensembles.npz")


if __name__ == "__main__":
    main()
