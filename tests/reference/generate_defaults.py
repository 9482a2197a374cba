#!/usr/bin/env python
"""Regenerate tests/reference/defaults.npz (run: python tests/reference/generate_defaults.py).

The table behind tests/test_defaults.py: values that only a converged truncation reproduces.
Backscattering (q_back), S1 and S2 at angles approaching pi and the near field at the surface
are the observables whose series converge slowest (Wiscombe's rule converges Q_ext and Q_sca
but leaves them at 1e-9..1e-7 relative), so the table holds them for large spheres
(x = 30..2e4) and layered ones (x = 30..500), dielectric, lossy and metallic.

Provenance: every stored number comes from ``mpref`` of generate.py (arbitrary precision,
psi_n / chi_n by Miller and upward recurrences, amplitudes matched layer by layer; not
jaxmie's algorithm), solved at two precisions that must agree to 1e-18 in every a_n, b_n,
with orders up to x + 16 x^(1/3) + 30 (the last order below 1e-20 of the largest for the far
field, and psi_n(x) there below 1e-20 for the near field). Observables are summed in mpmath.
The near fields are the scattered fields of Bohren & Huffman (4.45) with the vector
harmonics (4.50), evaluated in mpmath from the same coefficients at points just outside the
outer surface, converted to Cartesian components. scattnlay 2.4 (double precision; told to
use the same number of orders, and at its default truncation) is run on every case and its
disagreement stored: its own accuracy at large x is ~1e-10..1e-7, so it confirms the values
only to that level.

Arrays (n cases, L <= 3 layers, T angles, P points):
    x (n, 3), m (n, 3): layer size parameters and relative indices, NaN past n_layers (n,).
    kind (n,) str. q_ext, q_sca, q_abs, q_back, q_fwd, g (n,).
    theta (T,) radians, theta_deg (T,); s1, s2 (n, T) complex.
    s_scale (n, T): sum over orders of |(2n+1)/(n(n+1))| (|a_n pi_n| + |b_n tau_n|) (and the
        same with pi, tau swapped, the larger), the magnitude that rounding acts on.
    back_scale (n,): sum over orders of (2n+1)(|a_n| + |b_n|), the same for q_back.
    field (n,) bool: near fields computed; points (n, P, 3) (in units of 1/k: the wavelength
        is 2 pi); e_sca, h_sca (n, P, 3) complex: scattered E, H (relative to E_0, H_0).
    field_scale (n,): sum over orders of the magnitudes of the near-field terms, relative to
        max(1, |E|) (largest over points).
    window_start (n,) = floor(x_outer); tail_back, tail_s, tail_field (n, 480): truncation
        error of a series cut after N = window_start + j orders (j = 0..479; NaN past mpref's
        orders): |sum_{n > N} (2n+1)(-1)^n (a_n - b_n)| over |sum| (q_back); the largest over
        angles of |sum_{n > N}| of S1, S2 over max(|S1|, |S2|); the largest over points and
        components of the tails of E and H over max(1, |E|). They test a truncation rule on
        mpref's own coefficients, apart from any double-precision rounding.
    n_orders (n,), mp_dps (n,), mp_self_err (n,).
    err_scattnlay_nmax (n, 4): scattnlay with mpref's orders: q_back, S (max over angles,
        relative to s_scale), E, H (max over points, relative to max(1, |E|)); NaN if not run.
    err_scattnlay_default (n, 2): scattnlay at its own truncation: q_back, S.

Deterministic (fixed seeds). About 10 minutes on 2 cores.
"""

from __future__ import annotations

import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import mpmath as mp
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from generate import guard_digits, mp_coefficients, mp_observables, pi_tau, riccati  # noqa: E402

THETA_DEG = np.array([0.0, 30.0, 90.0, 150.0, 170.0, 175.0, 178.0, 179.0, 179.5, 179.9,
                      179.99, 180.0])
THETA = np.deg2rad(THETA_DEG)
SELF_TOL = 1e-18
Z0 = 4e-7 * np.pi * 299792458.0  # scattnlay reports H in units of E_0 / Z_0
FIELD_UP_TO = 500.0  # near fields for every case up to this outer x
# directions (theta, phi) of the near-field points: both poles' neighbourhoods, the equator
DIRECTIONS = [(0.0, 0.0), (0.3, 0.7), (1.2, 2.0), (np.pi / 2, 0.0), (2.4, -1.1), (np.pi, 0.0)]
RADIAL = (1.0 + 1e-9, 1.5)  # points at these multiples of the outer radius
WINDOW = 480  # truncation tails are stored for N = floor(x) .. floor(x) + WINDOW - 1


def n_orders(x):
    return math.ceil(x + 16.0 * x ** (1.0 / 3.0) + 30)


def _logu(rng, lo, hi):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def cases():
    """(xs, ms, kind) of every case: random ones and the three the issue reported."""
    rng = np.random.default_rng(20261204)
    out = [([39.5], [2.348], "reported"), ([725.8], [2.163], "reported"),
           ([486.1], [complex(1.852, 1.926)], "reported")]
    for lo, hi in ((30.0, 300.0), (300.0, 3000.0), (3000.0, 2e4)):
        for kind in ("dielectric", "lossy", "metallic"):
            for _ in range(2):
                x = _logu(rng, lo, hi)
                m = {"dielectric": complex(rng.uniform(1.1, 2.6), 0.0),
                     "lossy": complex(rng.uniform(1.3, 2.0), _logu(rng, 1e-4, 5e-2)),
                     "metallic": complex(rng.uniform(0.1, 2.0), rng.uniform(1.0, 8.0))}[kind]
                out.append(([x], [m], kind))
    out.append(([2e4], [complex(1.33, 1e-5)], "dielectric"))
    for kind in ("dielectric core-shell", "metal core", "thin metal shell", "three layers"):
        for _ in range(3):
            xo = _logu(rng, 30.0, 500.0)
            if kind == "dielectric core-shell":
                xs = [xo * rng.uniform(0.3, 0.9), xo]
                ms = [complex(rng.uniform(1.2, 3.5), 0.0),
                      complex(rng.uniform(1.2, 2.0), _logu(rng, 1e-5, 1e-2))]
            elif kind == "metal core":
                xs = [xo * rng.uniform(0.2, 0.8), xo]
                ms = [complex(rng.uniform(0.05, 0.5), rng.uniform(2.0, 8.0)),
                      complex(rng.uniform(1.3, 2.5), 0.0)]
            elif kind == "thin metal shell":
                xs = [xo * rng.uniform(0.95, 0.995), xo]
                ms = [complex(rng.uniform(1.3, 2.5), 0.0),
                      complex(rng.uniform(0.05, 0.5), rng.uniform(2.0, 8.0))]
            else:
                fr = np.sort(rng.uniform(0.2, 0.95, 2))
                xs = [xo * fr[0], xo * fr[1], xo]
                ms = [complex(rng.uniform(0.05, 0.5), rng.uniform(2.0, 6.0)),
                      complex(rng.uniform(1.3, 3.0), 0.0),
                      complex(rng.uniform(1.3, 2.0), _logu(rng, 1e-4, 1e-2))]
            out.append((xs, ms, kind))
    return out


def converged_coefficients(xs, ms, N):
    """a_n, b_n (n = 1..N, mpc) at two precisions that agree to SELF_TOL; and (dps, err)."""
    guard = guard_digits(xs, ms)
    for _attempt in range(4):
        dps = 25 + guard
        with mp.workdps(dps):
            a1, b1 = mp_coefficients(xs, ms, N)
        with mp.workdps(dps + 15):
            a2, b2 = mp_coefficients(xs, ms, N)
            err = max((float(abs(u - v) / abs(v)) for u, v in zip(a1 + b1, a2 + b2) if v != 0),
                      default=0.0)
        if err <= SELF_TOL:
            return a2, b2, dps + 15, err
        guard *= 2
    raise RuntimeError(f"mpref did not converge for {xs}, {ms}: {err}")


def points(x_outer):
    """Cartesian near-field points (P, 3) in units of 1/k."""
    out = []
    for scale in RADIAL:
        for theta, phi in DIRECTIONS:
            r = scale * x_outer
            out.append([r * math.sin(theta) * math.cos(phi), r * math.sin(theta) * math.sin(phi),
                        r * math.cos(theta)])
    return np.array(out)


def mp_scattered_field(a, b, point):
    """Scattered (E, H) at one Cartesian point (units of 1/k) outside the sphere, order by
    order, in mpmath (Bohren & Huffman 4.45, 4.50: E_n = i^n (2n+1)/(n(n+1)),
    xi_n = psi_n - i chi_n). Returns complex128 arrays (N, 3): the Cartesian contribution of
    each order n = 1..N to E and to H (sum them for the field)."""
    N = len(a)
    px, py, pz = (mp.mpf(float(v)) for v in point)
    rho = mp.sqrt(px * px + py * py + pz * pz)
    cos_t, sin_t = pz / rho, mp.sqrt(px * px + py * py) / rho
    phi = mp.atan2(py, px)
    cos_p, sin_p = mp.cos(phi), mp.sin(phi)
    psi, dpsi, chi, dchi = riccati(rho, N)
    j = mp.mpc(0, 1)
    basis = [[sin_t * cos_p, sin_t * sin_p, cos_t], [cos_t * cos_p, cos_t * sin_p, -sin_t],
             [-sin_p, cos_p, mp.mpf(0)]]
    cart = lambda v: [complex(sum(v[k] * basis[k][c] for k in range(3))) for c in range(3)]
    e_terms, h_terms = [], []
    pim1, pin = mp.mpf(0), mp.mpf(1)
    for i in range(N):
        n = i + 1
        tau = n * cos_t * pin - (n + 1) * pim1
        xi, dxi = psi[n] - j * chi[n], dpsi[n] - j * dchi[n]
        en = j ** n * mp.mpf(2 * n + 1) / (n * (n + 1))
        radial = n * (n + 1) * sin_t * pin * xi / rho ** 2
        an, bn = a[i], b[i]
        e_terms.append(cart([
            en * j * an * cos_p * radial,
            en * (j * an * cos_p * tau * dxi / rho - bn * cos_p * pin * xi / rho),
            en * (-j * an * sin_p * pin * dxi / rho + bn * sin_p * tau * xi / rho)]))
        h_terms.append(cart([
            en * j * bn * sin_p * radial,
            en * (j * bn * sin_p * tau * dxi / rho - an * sin_p * pin * xi / rho),
            en * (j * bn * cos_p * pin * dxi / rho - an * cos_p * tau * xi / rho)]))
        pim1, pin = pin, ((2 * n + 1) * cos_t * pin - (n + 1) * pim1) / n
    return np.array(e_terms), np.array(h_terms)


def tails(terms):
    """|sum_{n > N} terms_n| for N = 0..len(terms) along the first axis (float64; every tail
    is dominated by its first terms, so the reverse sum keeps its relative accuracy)."""
    rev = np.cumsum(terms[::-1], axis=0)[::-1]
    return np.abs(np.concatenate([rev, np.zeros_like(rev[:1])]))


def window(values, start):
    """values[start:start + WINDOW] padded with NaN: tails at N = start .. start + WINDOW - 1."""
    out = np.full(WINDOW, np.nan)
    part = values[start:start + WINDOW]
    out[:len(part)] = part
    return out


def scale_arrays(a, b, x):
    """s_scale (T,) and back_scale from float64 coefficients (magnitudes only)."""
    a, b = np.asarray(a, complex), np.asarray(b, complex)
    n = np.arange(1, len(a) + 1, dtype=float)
    pi, tau = pi_tau(np.cos(THETA), len(a))
    w = ((2 * n + 1) / (n * (n + 1)))[:, None]
    s1 = np.sum(w * (np.abs(a)[:, None] * np.abs(pi) + np.abs(b)[:, None] * np.abs(tau)), 0)
    s2 = np.sum(w * (np.abs(a)[:, None] * np.abs(tau) + np.abs(b)[:, None] * np.abs(pi)), 0)
    return np.maximum(s1, s2), float(np.sum((2 * n + 1) * (np.abs(a) + np.abs(b))))


def scattnlay_errors(xs, ms, ref, nmax):
    """Disagreement of scattnlay (nmax orders, or its default with nmax=-1) with ref."""
    from scattnlay import fieldnlay, scattnlay
    x, m = np.array(xs, float), np.array(ms, complex)
    *_, q_bk, _, _, _, s1, s2 = scattnlay(x, m, theta=THETA, nmax=nmax)
    err = [abs(q_bk - ref["q_back"]) / ref["q_back"],
           float(np.max(np.maximum(np.abs(s1 - ref["s1"]), np.abs(s2 - ref["s2"]))
                        / ref["s_scale"]))]
    if nmax > 0 and ref["field"]:
        pts = ref["points"]
        _, e, h = fieldnlay(x, m, *pts.T, nmax=nmax)
        e_inc = np.exp(1j * pts[:, 2])[:, None] * np.array([1.0, 0.0, 0.0])
        h_inc = np.exp(1j * pts[:, 2])[:, None] * np.array([0.0, 1.0, 0.0])
        scale = np.maximum(1.0, np.max(np.abs(ref["e_sca"] + e_inc), axis=1))
        err += [float(np.max(np.max(np.abs(e - e_inc - ref["e_sca"]), 1) / scale)),
                float(np.max(np.max(np.abs(h * Z0 - h_inc - ref["h_sca"]), 1)
                             / scale))]
    return np.array(err + [np.nan] * (4 - len(err)))


def reference(case):
    xs, ms, kind = case
    t0 = time.time()
    N = n_orders(xs[-1])
    a, b, dps, self_err = converged_coefficients(xs, ms, N)
    with mp.workdps(dps):
        amax = max(max(abs(v) for v in a), max(abs(v) for v in b))
        if float(max(abs(a[-1]), abs(b[-1])) / amax) > 1e-20:
            raise RuntimeError(f"truncation too short for {case}")
    out = mp_observables(a, b, xs[-1], THETA)
    if all(complex(m).imag == 0 for m in ms):
        out["q_abs"] = 0.0
    af, bf = np.array([complex(v) for v in a]), np.array([complex(v) for v in b])
    out["s_scale"], out["back_scale"] = scale_arrays(af, bf, xs[-1])
    start = int(math.floor(xs[-1]))
    out["window_start"] = start
    # truncation tails of the far field: the backscattering sum, and S1, S2 at every angle
    # relative to max(|S1|, |S2|) there (the largest over angles)
    n = np.arange(1, N + 1, dtype=float)
    back = (2 * n + 1) * np.where(n % 2 == 0, 1.0, -1.0) * (af - bf)
    out["tail_back"] = window(tails(back) / abs(back.sum()), start)
    pi, tau = pi_tau(np.cos(THETA), N)
    w = ((2 * n + 1) / (n * (n + 1)))[:, None]
    s_mag = np.maximum(np.abs(out["s1"]), np.abs(out["s2"]))
    s_tail = np.maximum(tails(w * (af[:, None] * pi + bf[:, None] * tau)),
                        tails(w * (af[:, None] * tau + bf[:, None] * pi))) / s_mag
    out["tail_s"] = window(np.max(s_tail, axis=1), start)
    out["field"] = xs[-1] <= FIELD_UP_TO
    out["points"] = points(xs[-1])
    out["e_sca"] = out["h_sca"] = np.full((len(out["points"]), 3), np.nan + 0j)
    out["tail_field"], out["field_scale"] = np.full(WINDOW, np.nan), np.nan
    if out["field"]:
        with mp.workdps(30):
            terms = [mp_scattered_field(a, b, p) for p in out["points"]]
        e_terms = np.stack([t[0] for t in terms], axis=1)  # (N, P, 3)
        h_terms = np.stack([t[1] for t in terms], axis=1)
        out["e_sca"], out["h_sca"] = e_terms.sum(0), h_terms.sum(0)
        e_inc = np.exp(1j * out["points"][:, 2])[:, None] * np.array([1.0, 0.0, 0.0])
        scale = np.maximum(1.0, np.max(np.abs(out["e_sca"] + e_inc), axis=1))  # (P,)
        field_tail = np.maximum(tails(e_terms), tails(h_terms)).max(axis=2) / scale
        out["tail_field"] = window(field_tail.max(axis=1), start)
        out["field_scale"] = float(np.max(np.maximum(
            np.abs(e_terms).sum(0), np.abs(h_terms).sum(0)).max(axis=1) / scale))
    out["n_orders"], out["mp_dps"], out["mp_self_err"] = N, dps, self_err
    out["err_scattnlay_nmax"] = scattnlay_errors(xs, ms, out, N)
    out["err_scattnlay_default"] = scattnlay_errors(xs, ms, out, -1)[:2]
    print(f"{kind:22s} x={xs[-1]:9.2f} m={ms[-1]!s:22s} N={N:6d} dps={dps} "
          f"scattnlay(N) {out['err_scattnlay_nmax'][0]:.1e}/{out['err_scattnlay_nmax'][1]:.1e} "
          f"default {out['err_scattnlay_default'][0]:.1e}/{out['err_scattnlay_default'][1]:.1e}"
          f" ({time.time() - t0:.0f} s)", flush=True)
    return out


def main():
    todo = cases()
    # largest first, so the pool stays busy
    order = sorted(range(len(todo)), key=lambda i: -todo[i][0][-1])
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        done = dict(zip(order, pool.map(reference, [todo[i] for i in order])))
    rows = [done[i] for i in range(len(todo))]
    pad = lambda vs, fill: np.array([list(v) + [fill] * (3 - len(v)) for v in vs])
    arrays = dict(
        x=pad([c[0] for c in todo], np.nan).astype(float),
        m=pad([c[1] for c in todo], np.nan).astype(complex),
        n_layers=np.array([len(c[0]) for c in todo], np.int32),
        kind=np.array([c[2] for c in todo]),
        theta=THETA, theta_deg=THETA_DEG,
    )
    for key in ("q_ext", "q_sca", "q_abs", "q_back", "q_fwd", "g", "back_scale", "n_orders",
                "mp_dps", "mp_self_err", "field", "window_start", "field_scale"):
        arrays[key] = np.array([r[key] for r in rows])
    for key in ("s1", "s2", "s_scale", "points", "e_sca", "h_sca", "err_scattnlay_nmax",
                "err_scattnlay_default", "tail_back", "tail_s", "tail_field"):
        arrays[key] = np.stack([r[key] for r in rows])
    np.savez_compressed(os.path.join(HERE, "defaults.npz"), **arrays)
    print(f"wrote defaults.npz: {len(rows)} cases")


if __name__ == "__main__":
    main()
