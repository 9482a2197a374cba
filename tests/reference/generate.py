#!/usr/bin/env python
"""Regenerate the jaxmie reference tables (run: python tests/reference/generate.py).

Nothing in the test-suite imports this script; the tests only read the ``.npz`` files it writes.
README.md next to it gives the schema of every file and the agreement levels observed.
Deterministic: fixed seeds, no dependence on the number of worker processes.  ~3 min on 2 cores.

Provenance
==========
Every case is computed by up to four independent programs:

* ``mpref`` (the STORED reference value): an arbitrary-precision solver written here on mpmath.
  It deliberately does not use jaxmie's log-derivative/ratio algorithm (Yang 2003, Pena & Pal
  2009): in every layer it builds the Riccati-Bessel functions psi_n(z) = z j_n(z) (Miller's
  downward recurrence, normalised on psi_0 or psi_1) and chi_n(z) = -z y_n(z) (upward
  recurrence) and carries the amplitudes (A_l, B_l) of u_l = A_l psi_n(m_l rho) + B_l chi_n(m_l rho)
  outwards by matching (u, u') at each interface for b_n (TE) and (u, u'/m^2) for a_n (TM);
  outside, u = c (psi - a xi) with xi = psi - i chi gives a = B / (iA + B).  The cancellation of
  this direct scheme (~0.87 |Im m_l| x_l digits per absorbing shell, ~2 log10(1/x) for tiny x)
  is paid for with guard digits: each case is solved at two precisions (dps, dps + 15) and the
  two solutions must agree to 1e-18 (relative, elementwise, every a_n and b_n), else the guard
  is doubled.  Orders n <= x + 10 x^(1/3) + 20 are kept, and the last one is checked to be
  < 1e-20 of the largest.  Observables are summed in mpmath at 30 digits with the formulas
  below and rounded once to float64.  Each run starts with a self-test of psi_n, chi_n against
  mpmath.besselj/bessely and ends-to-end checks of mpref against the published values of
  ../shared/REFERENCES.md (Du/MIEV0, Bohren & Huffman, Yang 2003, five-layer, Rayleigh).
* ``scattnlay`` 2.4 (C++, double precision, Pena & Pal algorithm), two ways:
  "scattnlay" = its own outputs (``scattnlay(x, m, theta)``: Qext, Qsca, Qabs, Qbk, g, S1, S2;
  q_fwd = 4|S1(0)|^2/x^2 from its S1(0)), "scattnlay_coeffs" = its ``scattcoeffs`` a_n, b_n
  through the formulas below.  Its default truncation is used.  For x > 3000 its S1/S2 are not
  requested (they cost O(N^2) per angle: 6 s per angle at x = 2e4), so those err are NaN.
* ``treams`` 0.4.7 (T-matrix code): ``treams.coeffs.mie``, the per-degree kernel that
  ``treams.TMatrix.sphere`` puts on the diagonal (a full T-matrix of degree ~1e4 would not fit in
  memory; check_conventions verifies that both hold the same numbers), through the formulas.
* ``miepython`` 3.3.0 (homogeneous spheres only): ``coefficients(m, x, n_pole=N)`` through the
  formulas.  Its own ``efficiencies_mx`` and ``S1_S2`` are not used as peers: they truncate at
  Wiscombe's N (errors ~1e-7..1e-6 in q_back and S at x > 500) and for |m| x < 0.1
  efficiencies_mx returns a small-sphere approximation.

Convention conversions (each verified numerically at run time, see check_conventions)
-------------------------------------------------------------------------------------
jaxmie: exp(-i omega t), m = n + ik with k >= 0 absorbing, Bohren & Huffman (B&H) a_n, b_n,
S1, S2, efficiencies normalised by pi r_outer^2.

* scattnlay: m passed as n + ik.  scattcoeffs a_n, b_n are B&H (Table 4.1 reproduced); S1, S2
  are B&H (MIEV0 m = 1.5+1i values reproduced, no conjugation); Qext, Qsca, Qabs are ours;
  its Qbk equals our q_back = 4|S1(pi)|^2/x^2 (identical to the last bit); its g is
  (Qext - Qpr)/Qsca (the same quantity; it loses digits when g << 1, i.e. tiny spheres).
  scattcoeffs returns longer arrays than ``terms`` when scattnlay lowered its nmax after meeting
  a non-finite order (it prints "nmax value was changed due to unexpected error"); the entry at
  order terms + 1 is then NaN, so only the first ``terms`` entries are used.
* treams: materials epsilon = m^2 (Im > 0 absorbing), mu = 1, kappa = 0, vacuum last;
  ``treams.coeffs.mie(l, x, eps, mu, kappa)`` is the 2x2 helicity block T_l and
  a_n = -(T[0,0] + T[0,1]), b_n = -(T[0,0] - T[0,1]).  In ``TMatrix.sphere(..., poltype="parity")``
  the diagonal is -a_n for pol = 1 (TM) and -b_n for pol = 0 (TE).  Same time convention as B&H:
  no conjugation.
* miepython: ``coefficients`` returns B&H a_n, b_n for either sign of Im(m) (it conjugates m to
  its n - ik convention and conjugates the result back).  ``S1_S2(m, x, mu, norm="wiscombe")``
  returns the COMPLEX CONJUGATES of the B&H S1, S2; norm="bohren" is 2x that.
  ``efficiencies_mx`` qback equals our q_back.

Formulas (x = outer size parameter, sums over n = 1..N)
-------------------------------------------------------
q_ext = 2/x^2 sum (2n+1) Re(a_n + b_n);  q_sca = 2/x^2 sum (2n+1)(|a_n|^2 + |b_n|^2);
q_abs = q_ext - q_sca (stored as exactly 0 when every layer has k = 0);
q_back = 1/x^2 |sum (2n+1)(-1)^n (a_n - b_n)|^2 = 4|S1(pi)|^2/x^2;
q_fwd = 1/x^2 |sum (2n+1)(a_n + b_n)|^2 = 4|S1(0)|^2/x^2;
g = 4/(x^2 q_sca) sum [ n(n+2)/(n+1) Re(a_n a*_{n+1} + b_n b*_{n+1})
                       + (2n+1)/(n(n+1)) Re(a_n b*_n) ];
S1 = sum (2n+1)/(n(n+1)) (a_n pi_n + b_n tau_n), S2 = sum (2n+1)/(n(n+1)) (a_n tau_n + b_n pi_n),
pi_n, tau_n by the B&H recurrences at mu = cos(theta), theta being exactly the stored float64.

Agreement criteria
------------------
err_<code>[case, column] is the disagreement of a double-precision code with mpref (see
errors()): q_ext, q_sca, q_back, q_fwd relative; q_abs relative to q_ext; g absolute;
ab = max |d a_n|, |d b_n| (n <= 10) / max(|a_n|, |b_n|); s1, s2 = max over theta of
|d S(theta)| / max(|S1(theta)|, |S2(theta)|).  inf: the code gave NaN/inf or crashed;
NaN: not computed by that code.
A case of the main tables is KEPT iff, for every column, at least one double-precision peer
agrees with mpref to TOL = 1e-10 (so at least two independent codes agree on every stored
number); otherwise it is dropped and listed in the printed summary (and in README.md).
The stress file keeps every case whatever the peers do, and records what they did.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import version

import mpmath as mp
import numpy as np
from published import MIEV0

HERE = os.path.dirname(os.path.abspath(__file__))
K = 10  # number of stored a_n, b_n (orders 1..K)
THETA_DEG = np.array([0, 1, 10, 30, 45, 60, 90, 120, 150, 170, 179, 180], dtype=float)
THETA = np.deg2rad(THETA_DEG)  # the stored float64 angles; every code gets exactly these
TOL = 1e-10
SUM_DPS = 30  # precision of the observable sums in mpref
SELF_TOL = 1e-18  # agreement required between the two mpref precisions
SCALARS = ("q_ext", "q_sca", "q_abs", "q_back", "q_fwd", "g")
COLUMNS = SCALARS + ("ab", "s1", "s2")  # columns of the err_* arrays
SCATTNLAY_ANGLES_UP_TO = 3000.0
CODES = ("scattnlay", "scattnlay_coeffs", "treams", "miepython")


# ============================================================================================
# mpref: arbitrary-precision reference
# ============================================================================================

def riccati(z, N):
    """psi_n, psi_n', chi_n, chi_n' for n = 0..N at complex z, in the current mp precision.

    chi_n = -z y_n(z) by upward recurrence (it is the dominant solution); psi_n = z j_n(z) by
    Miller's downward recurrence, started at an order where chi has grown by 10^((dps+10)/2)
    beyond max_{n<=N} |chi_n| (so the minimal solution is resolved to the working precision),
    then normalised on psi_0 = sin z or psi_1 = sin z / z - cos z, whichever is larger.
    """
    z = mp.mpc(z)
    iz = 1 / z
    s, c = mp.sin(z), mp.cos(z)
    chi = [c, c * iz + s]
    big = max(abs(chi[0]), abs(chi[1]))
    thresh = mp.mpf(10) ** ((mp.mp.dps + 10) / 2.0)
    az = float(abs(z))
    n = 1
    while True:
        chi.append((2 * n + 1) * iz * chi[n] - chi[n - 1])
        n += 1
        mag = abs(chi[n])
        if n <= N:
            big = max(big, mag)
        elif n >= max(N, az) + 10 and mag >= thresh * big:
            break
    ns = n
    psi = [mp.mpc(0)] * (ns + 2)
    psi[ns] = mp.mpc(1)
    for k in range(ns, 0, -1):
        psi[k - 1] = (2 * k + 1) * iz * psi[k] - psi[k + 1]
    p0, p1 = s, s * iz - c
    scale = (p1 / psi[1]) if abs(p1) > abs(p0) else (p0 / psi[0])
    psi = [p * scale for p in psi[: N + 1]]
    chi = chi[: N + 1]
    dpsi = [c] + [psi[k - 1] - k * iz * psi[k] for k in range(1, N + 1)]
    dchi = [-s] + [chi[k - 1] - k * iz * chi[k] for k in range(1, N + 1)]
    return psi, dpsi, chi, dchi


def mp_coefficients(xs, ms, N):
    """a_n, b_n (n = 1..N, lists of mpc) of a layered sphere, transfer of field amplitudes."""
    L = len(xs)
    xs = [mp.mpf(float(x)) for x in xs]
    ms = [mp.mpc(complex(m)) for m in ms] + [mp.mpc(1)]
    A = {"a": [mp.mpc(1)] * (N + 1), "b": [mp.mpc(1)] * (N + 1)}
    B = {"a": [mp.mpc(0)] * (N + 1), "b": [mp.mpc(0)] * (N + 1)}
    for l in range(L):
        m_in, m_out = ms[l], ms[l + 1]
        P, dP, C, dC = riccati(m_in * xs[l], N)
        Q, dQ, D, dD = riccati(m_out * xs[l], N)
        for pol in ("a", "b"):
            # b (TE): u and u' continuous; a (TM): u and u'/m^2 continuous (u' = d/d rho)
            f_in, f_out = (m_in, m_out) if pol == "b" else (1 / m_in, 1 / m_out)
            Al, Bl = A[pol], B[pol]
            for n in range(1, N + 1):
                u = Al[n] * P[n] + Bl[n] * C[n]
                v = f_in * (Al[n] * dP[n] + Bl[n] * dC[n])
                det = f_out * (Q[n] * dD[n] - D[n] * dQ[n])
                Al[n], Bl[n] = ((u * f_out * dD[n] - D[n] * v) / det,
                                (Q[n] * v - f_out * dQ[n] * u) / det)
    j = mp.mpc(0, 1)
    a = [B["a"][n] / (j * A["a"][n] + B["a"][n]) for n in range(1, N + 1)]
    b = [B["b"][n] / (j * A["b"][n] + B["b"][n]) for n in range(1, N + 1)]
    return a, b


def n_orders(x_outer):
    return max(K + 2, math.ceil(x_outer + 10.0 * x_outer ** (1.0 / 3.0) + 20))


def guard_digits(xs, ms):
    g = 10.0 + 3.0 * max(0.0, math.log10(1.0 / min(xs)))
    for l in range(1, len(xs)):  # absorbing shells: naive psi/chi matching cancels
        g += 0.8686 * abs(complex(ms[l]).imag) * xs[l]
    return math.ceil(g)


def _to_c(v):
    return complex(v)


def mp_observables(a, b, x, theta):
    """All observables from mp coefficient lists (summed at SUM_DPS digits)."""
    with mp.workdps(SUM_DPS):
        a = [+v for v in a]
        b = [+v for v in b]
        x = mp.mpf(float(x))
        N = len(a)
        x2 = x * x
        ext = sca = mp.mpf(0)
        back = fwd = mp.mpc(0)
        gs = mp.mpf(0)
        for i in range(N):
            n = i + 1
            an, bn = a[i], b[i]
            ext += (2 * n + 1) * (an.real + bn.real)
            sca += (2 * n + 1) * (abs(an) ** 2 + abs(bn) ** 2)
            back += (2 * n + 1) * (-1) ** n * (an - bn)
            fwd += (2 * n + 1) * (an + bn)
            gs += mp.mpf(2 * n + 1) / (n * (n + 1)) * (an * mp.conj(bn)).real
            if i + 1 < N:
                gs += mp.mpf(n * (n + 2)) / (n + 1) * (an * mp.conj(a[i + 1])
                                                      + bn * mp.conj(b[i + 1])).real
        q_ext = 2 * ext / x2
        q_sca = 2 * sca / x2
        out = {
            "q_ext": float(q_ext), "q_sca": float(q_sca), "q_abs": float(q_ext - q_sca),
            "q_back": float(abs(back) ** 2 / x2), "q_fwd": float(abs(fwd) ** 2 / x2),
            "g": float(4 * gs / (x2 * q_sca)),
        }
        s1 = np.zeros(len(theta), complex)
        s2 = np.zeros(len(theta), complex)
        for t, th in enumerate(theta):
            mu = mp.cos(mp.mpf(float(th)))
            pim1, pin = mp.mpf(0), mp.mpf(1)
            S1 = S2 = mp.mpc(0)
            for i in range(N):
                n = i + 1
                tau = n * mu * pin - (n + 1) * pim1
                f = mp.mpf(2 * n + 1) / (n * (n + 1))
                S1 += f * (a[i] * pin + b[i] * tau)
                S2 += f * (a[i] * tau + b[i] * pin)
                pim1, pin = pin, ((2 * n + 1) * mu * pin - (n + 1) * pim1) / n
            s1[t], s2[t] = complex(S1), complex(S2)
        out["s1"], out["s2"] = s1, s2
    return out


def mpref(case):
    """Reference values of one case (xs, ms): dict of observables plus diagnostics."""
    xs, ms = case
    xs = [float(v) for v in xs]
    ms = [complex(v) for v in ms]
    N = n_orders(xs[-1])
    guard = guard_digits(xs, ms)
    t0 = time.time()
    for _attempt in range(4):
        dps = 25 + guard
        with mp.workdps(dps):
            a1, b1 = mp_coefficients(xs, ms, N)
        with mp.workdps(dps + 15):
            a2, b2 = mp_coefficients(xs, ms, N)
            self_err = 0.0
            for v1, v2 in zip(a1 + b1, a2 + b2):
                if v2 != 0:
                    self_err = max(self_err, float(abs(v1 - v2) / abs(v2)))
        if self_err <= SELF_TOL:
            break
        guard *= 2
    else:
        raise RuntimeError(f"mpref did not converge for {case}: {self_err}")
    with mp.workdps(dps + 15):
        amax = max(max(abs(v) for v in a2), max(abs(v) for v in b2))
        tail = float(max(abs(a2[-1]), abs(b2[-1])) / amax) if amax > 0 else 0.0
    if tail > 1e-20:
        raise RuntimeError(f"mpref truncation too short for {case}: tail {tail}")
    out = mp_observables(a2, b2, xs[-1], THETA)
    if all(m.imag == 0 for m in ms):
        out["q_abs"] = 0.0  # exactly, for non-absorbing spheres
    out["a"] = np.array([_to_c(v) for v in a2[:K]])
    out["b"] = np.array([_to_c(v) for v in b2[:K]])
    out["diag"] = {"N": N, "dps": dps + 15, "self_err": self_err, "tail": tail,
                   "seconds": time.time() - t0}
    return out


def selftest_riccati():
    """psi_n, chi_n of the recurrences against mpmath's Bessel functions."""
    worst = 0.0
    with mp.workdps(80):  # chi loses ~0.87 |Im z| digits past n = |z| (z = 0.3 + 30i here)
        for z in (mp.mpf("1e-3"), mp.mpc(3, 4), mp.mpc(50, 0.5), mp.mpc(0.3, 30), mp.mpf(120)):
            P, _, C, _ = riccati(z, 60)
            for n in (0, 1, 7, 33, 60):
                f = mp.sqrt(mp.pi * z / 2)
                psi = f * mp.besselj(n + mp.mpf(1) / 2, z)
                chi = -f * mp.bessely(n + mp.mpf(1) / 2, z)
                worst = max(worst, float(abs(P[n] - psi) / abs(psi)),
                            float(abs(C[n] - chi) / abs(chi)))
    assert worst < 1e-30, worst
    return worst


# ============================================================================================
# Double-precision formulas (applied to treams' and miepython's coefficients)
# ============================================================================================

def pi_tau(mu, N):
    mu = np.asarray(mu, float)
    pi = np.zeros((N,) + mu.shape)
    tau = np.zeros((N,) + mu.shape)
    pim1 = np.zeros_like(mu)
    pin = np.ones_like(mu)
    for i in range(N):
        n = i + 1
        pi[i] = pin
        tau[i] = n * mu * pin - (n + 1) * pim1
        pim1, pin = pin, ((2 * n + 1) * mu * pin - (n + 1) * pim1) / n
    return pi, tau


def np_observables(a, b, x, theta):
    a = np.asarray(a, complex)
    b = np.asarray(b, complex)
    N = len(a)
    n = np.arange(1, N + 1, dtype=float)
    x2 = x * x
    q_ext = 2 / x2 * np.sum((2 * n + 1) * (a.real + b.real))
    q_sca = 2 / x2 * np.sum((2 * n + 1) * (np.abs(a) ** 2 + np.abs(b) ** 2))
    sign = np.where(np.arange(1, N + 1) % 2 == 0, 1.0, -1.0)
    q_back = np.abs(np.sum((2 * n + 1) * sign * (a - b))) ** 2 / x2
    q_fwd = np.abs(np.sum((2 * n + 1) * (a + b))) ** 2 / x2
    gs = np.sum((2 * n + 1) / (n * (n + 1)) * (a * b.conj()).real)
    gs += np.sum(n[:-1] * (n[:-1] + 2) / (n[:-1] + 1)
                 * (a[:-1] * a[1:].conj() + b[:-1] * b[1:].conj()).real)
    g = 4 * gs / (x2 * q_sca)
    pi, tau = pi_tau(np.cos(theta), N)
    f = ((2 * n + 1) / (n * (n + 1)))[:, None]
    s1 = np.sum(f * (a[:, None] * pi + b[:, None] * tau), axis=0)
    s2 = np.sum(f * (a[:, None] * tau + b[:, None] * pi), axis=0)
    return {"q_ext": q_ext, "q_sca": q_sca, "q_abs": q_ext - q_sca, "q_back": q_back,
            "q_fwd": q_fwd, "g": g, "s1": s1, "s2": s2}


def _pad(v, n=K):
    out = np.zeros(n, complex)
    v = np.asarray(v, complex)[:n]
    out[: len(v)] = v
    return out


# ============================================================================================
# Peers
# ============================================================================================

def peer_scattnlay(xs, ms, theta=THETA):
    """scattnlay's own outputs (its default truncation); q_fwd from its own S1(0)."""
    from scattnlay import scattnlay
    x = np.array(xs, float)
    m = np.array(ms, complex)
    if x[-1] > SCATTNLAY_ANGLES_UP_TO:
        # scattnlay's S1/S2 cost O(N^2) per angle (6 s per angle at x = 2e4): above this size
        # they are not asked for (err = NaN: not computed); "scattnlay_coeffs" covers them.
        _, q_ext, q_sca, q_abs, q_bk, _q_pr, g, _alb, _, _ = scattnlay(x, m)
        s1 = s2 = np.full(len(theta), np.nan + 0j)
        q_fwd = np.nan
    else:
        _, q_ext, q_sca, q_abs, q_bk, _q_pr, g, _alb, s1, s2 = scattnlay(x, m, theta=theta)
        s1 = np.asarray(s1, complex)
        s2 = np.asarray(s2, complex)
        i0 = int(np.argmin(np.abs(theta)))  # theta = 0 is in the grid
        q_fwd = 4 * abs(s1[i0]) ** 2 / x[-1] ** 2
    out = {"q_ext": float(q_ext), "q_sca": float(q_sca), "q_abs": float(q_abs),
           "q_back": float(q_bk), "q_fwd": float(q_fwd), "g": float(g), "s1": s1, "s2": s2}
    if x[-1] > SCATTNLAY_ANGLES_UP_TO:
        out["not_computed"] = ("q_fwd", "s1", "s2")
    out["a"], out["b"] = peer_scattnlay_coeffs(xs, ms, theta, raw=True)
    return out


def peer_scattnlay_coeffs(xs, ms, theta=THETA, raw=False):
    """scattnlay's a_n, b_n (scattcoeffs, default truncation) through the formulas above."""
    from scattnlay import scattcoeffs
    terms, a, b = scattcoeffs(np.array(xs, float), np.array(ms, complex))
    # When scattnlay lowers its nmax after meeting a non-finite order (it prints "nmax value
    # was changed due to unexpected error"), the arrays keep their first length and hold NaN
    # at order terms + 1: only the first `terms` entries are its result.
    a, b = np.asarray(a)[:terms], np.asarray(b)[:terms]
    if raw:
        return _pad(a), _pad(b)
    out = np_observables(a, b, xs[-1], theta)
    out["a"], out["b"] = _pad(a), _pad(b)
    return out


def peer_treams(xs, ms, N, theta=THETA):
    """treams' Mie coefficients (degrees 1..N) through the formulas above."""
    from treams.coeffs import mie
    eps = [complex(m) ** 2 for m in ms] + [1.0]
    L = len(ms) + 1
    T = mie(np.arange(1, N + 1), np.array(xs, float), eps, [1.0] * L, [0.0] * L)
    a = -(T[:, 0, 0] + T[:, 0, 1])
    b = -(T[:, 0, 0] - T[:, 0, 1])
    out = np_observables(a, b, xs[-1], theta)
    out["a"], out["b"] = _pad(a), _pad(b)
    return out


def peer_miepython(xs, ms, N, theta=THETA):
    """miepython's coefficients (orders 1..N) through the formulas above (homogeneous only).

    Its own efficiencies_mx / S1_S2 truncate at Wiscombe's N (~1e-6 at large x) and use a
    small-sphere approximation for |m| x < 0.1, so they are not used as a peer (see
    check_conventions for their conventions)."""
    import miepython
    x, m = float(xs[0]), complex(ms[0])
    a, b = miepython.coefficients(m, x, n_pole=N)
    out = np_observables(a, b, x, theta)
    out["a"], out["b"] = _pad(a), _pad(b)
    return out


# ============================================================================================
# Cases (fixed seeds)
# ============================================================================================

def _logu(rng, lo, hi, size=None):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def homogeneous_cases():
    rng = np.random.default_rng(20240601)
    cases, kinds = [], []
    n_main = 300
    for i in range(n_main):
        x = float(_logu(rng, 1e-3, 2e3))
        u = rng.uniform()
        if u < 0.30:
            kind, m = "dielectric", complex(rng.uniform(0.75, 4.0), 0.0)
        elif u < 0.40:
            kind, m = "near-1", complex(rng.uniform(1.0, 1.05),
                                        0.0 if rng.uniform() < 0.5 else _logu(rng, 1e-6, 1e-1))
        elif u < 0.70:
            kind, m = "weakly-absorbing", complex(rng.uniform(0.75, 4.0), _logu(rng, 1e-6, 1e-1))
        elif u < 0.85:
            kind, m = "metal-like", complex(rng.uniform(0.75, 4.0), rng.uniform(1.0, 10.0))
        else:
            kind, m = "noble-metal", complex(rng.uniform(0.1, 0.5), rng.uniform(3.0, 8.0))
        cases.append(([x], [m]))
        kinds.append(kind)
    for i in range(6):  # a handful of very large spheres
        x = float(_logu(rng, 2e3, 2e4))
        m = [complex(1.33, 1e-5), complex(1.5, 0.0), complex(0.3, 5.0),
             complex(2.5, 0.01), complex(1.02, 0.0), complex(3.0, 2.0)][i]
        cases.append(([x], [m]))
        kinds.append("large-x")
    return cases, kinds


def _dielectric(rng, lo=1.0, hi=2.5):
    n = rng.uniform(lo, hi)
    return complex(n, 0.0 if rng.uniform() < 0.5 else _logu(rng, 1e-6, 1e-1))


def _noble(rng):
    return complex(rng.uniform(0.05, 0.5), rng.uniform(2.0, 8.0))


def coreshell_cases():
    rng = np.random.default_rng(20240602)
    cases, kinds = [], []

    def add(kind, xs, ms):
        cases.append(([float(v) for v in xs], [complex(v) for v in ms]))
        kinds.append(kind)

    for fixed in (complex(0.2, 3.0), complex(0.05, 4.0)):  # thin metal shells, fixed indices
        for _ in range(25):
            xo = float(_logu(rng, 1e-2, 50.0))
            f = rng.uniform(0.01, 0.10)
            add("thin-metal-shell", [xo * (1 - f), xo], [_dielectric(rng), fixed])
    for _ in range(50):  # thin metal shells, random metal
        xo = float(_logu(rng, 1e-2, 50.0))
        f = rng.uniform(0.01, 0.10)
        add("thin-metal-shell", [xo * (1 - f), xo], [_dielectric(rng), _noble(rng)])
    for _ in range(60):  # metal cores, dielectric shells
        xo = float(_logu(rng, 1e-2, 50.0))
        r = rng.uniform(0.1, 0.95)
        core = _noble(rng) if rng.uniform() < 0.6 else complex(rng.uniform(0.75, 4.0),
                                                              rng.uniform(1.0, 10.0))
        add("metal-core", [xo * r, xo], [core, _dielectric(rng, 1.2, 2.5)])
    for _ in range(70):  # dielectric / dielectric
        xo = float(_logu(rng, 1e-2, 50.0))
        r = rng.uniform(0.05, 0.98)
        add("dielectric", [xo * r, xo], [_dielectric(rng, 0.75, 4.0), _dielectric(rng, 0.75, 4.0)])
    for _ in range(40):  # equal core and shell materials
        xo = float(_logu(rng, 1e-2, 50.0))
        r = rng.uniform(0.05, 0.98)
        m = [_dielectric(rng, 0.75, 4.0), _noble(rng),
             complex(rng.uniform(0.75, 4.0), rng.uniform(1.0, 10.0))][int(rng.integers(3))]
        add("equal-materials", [xo * r, xo], [m, m])
    for _ in range(15):  # a few large ones
        xo = float(rng.uniform(50.0, 200.0))
        r = rng.uniform(0.5, 0.99)
        ms = [[_dielectric(rng), _noble(rng)], [_noble(rng), _dielectric(rng)],
              [_dielectric(rng, 0.75, 4.0), _dielectric(rng, 0.75, 4.0)]][int(rng.integers(3))]
        add("large-x", [xo * r, xo], ms)
    return cases, kinds


def multilayer_cases(L):
    rng = np.random.default_rng(20240600 + L)
    cases, kinds = [], []
    n_cases = {3: 40, 4: 35, 5: 35}[L]
    for _ in range(n_cases):
        xo = float(_logu(rng, 0.1, 30.0))
        fr = np.sort(rng.uniform(0.05, 1.0, L - 1))
        while np.min(np.diff(np.concatenate([[0.0], fr, [1.0]]))) < 0.01:
            fr = np.sort(rng.uniform(0.05, 1.0, L - 1))
        xs = list(xo * fr) + [xo]
        ms = []
        for _l in range(L):
            u = rng.uniform()
            if u < 0.45:
                ms.append(_dielectric(rng, 1.0, 3.0))
            elif u < 0.75:
                ms.append(_noble(rng))
            else:
                ms.append(complex(rng.uniform(1.0, 4.0), rng.uniform(0.1, 2.0)))
        kind = "metallic" if any(m.imag >= 2.0 for m in ms) else "dielectric/lossy"
        cases.append(([float(v) for v in xs], ms))
        kinds.append(kind)
    return cases, kinds


# ============================================================================================
# Errors, running, saving
# ============================================================================================

def errors(peer, ref):
    """Disagreement of a code's values with the reference, one number per COLUMNS entry.

    q_ext, q_sca, q_back, q_fwd: |d| / |ref|;  q_abs: |d| / q_ext;  g: |d| (g is in [-1, 1]);
    ab: max_n |d a_n|, |d b_n| over n <= K divided by max_n (|a_n|, |b_n|);
    s1, s2: max over theta of |d S(theta)| / max(|S1(theta)|, |S2(theta)|).
    """
    e = {}
    for q in ("q_ext", "q_sca", "q_back", "q_fwd"):
        e[q] = abs(peer[q] - ref[q]) / abs(ref[q]) if ref[q] != 0 else abs(peer[q])
    e["q_abs"] = abs(peer["q_abs"] - ref["q_abs"]) / abs(ref["q_ext"])
    e["g"] = abs(peer["g"] - ref["g"])
    ab_ref = np.concatenate([ref["a"], ref["b"]])
    ab = np.concatenate([peer["a"], peer["b"]])
    e["ab"] = float(np.max(np.abs(ab - ab_ref)) / np.max(np.abs(ab_ref)))
    scale = np.maximum(np.abs(ref["s1"]), np.abs(ref["s2"]))
    for s in ("s1", "s2"):
        e[s] = float(np.max(np.abs(peer[s] - ref[s]) / scale))
    out = np.array([e[c] for c in COLUMNS], float)
    out = np.where(np.isfinite(out), out, np.inf)  # inf: the code gave NaN/inf (or crashed)
    for c in peer.get("not_computed", ()):
        out[COLUMNS.index(c)] = np.nan  # NaN: not asked of this code
    return out


def finite_flags(peer):
    f = [bool(np.isfinite(peer[q])) for q in SCALARS]
    f.append(bool(np.all(np.isfinite(peer["a"])) and np.all(np.isfinite(peer["b"]))))
    f += [bool(np.all(np.isfinite(peer["s1"]))), bool(np.all(np.isfinite(peer["s2"])))]
    return np.array(f, bool)


@contextlib.contextmanager
def _capture_fd1(box):
    """Capture what C/C++ code writes on file descriptor 1 (scattnlay prints there)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            tmp.seek(0)
            box.append(tmp.read().decode(errors="replace"))


def run_peer(name, xs, ms, N):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            try:
                if name == "scattnlay":
                    return peer_scattnlay(xs, ms)
                if name == "scattnlay_coeffs":
                    return peer_scattnlay_coeffs(xs, ms)
                if name == "treams":
                    return peer_treams(xs, ms, N)
                if name == "miepython":
                    return peer_miepython(xs, ms, N) if len(xs) == 1 else None
            except Exception as exc:
                return f"{name} raised {type(exc).__name__}: {exc}"
    raise ValueError(name)


def run_set(cases, refs):
    """Peers on every case; refs maps _key(xs, ms) to mpref's result."""
    rows = []
    for xs, ms in cases:
        ref = refs[_key(xs, ms)]
        row = {"ref": ref, "err": {}, "finite": {}}
        for name in CODES:
            box = []
            with _capture_fd1(box):
                peer = run_peer(name, xs, ms, ref["diag"]["N"])
            if name == "scattnlay":
                row["nmax_reduced"] = "nmax value was changed" in box[0]
            if peer is None:
                continue
            if isinstance(peer, str):
                print(f"  {peer} (x={xs}, m={ms})")
                row.setdefault("crashes", []).append(peer)
                row["err"][name] = np.full(len(COLUMNS), np.inf)
                row["finite"][name] = np.zeros(len(COLUMNS), bool)
                continue
            row["err"][name] = errors(peer, ref)
            row["finite"][name] = finite_flags(peer)
        rows.append(row)
    return rows

def stress_cases():
    """(label, xs, ms): cases that stress the codes; kept whatever the peers do."""
    c = []
    for x in (1e4, 2e4):
        for m in (1.33 + 1e-5j, 1.5 + 1j, 10 + 10j, 0.75):
            c.append((f"homogeneous x={x:g} m={m:g}", [x], [m]))
    c += [
        ("core-shell x=500 dielectric", [400.0, 500.0], [1.5, 1.33 + 1e-3j]),
        ("core-shell x=500 metal core |Im mx|=750", [250.0, 500.0], [0.2 + 3j, 1.5]),
        ("3 layers x=500", [200.0, 350.0, 500.0], [2.0, 1.2 + 0.01j, 1.6]),
        ("core-shell x=300 1% metal shell |Im mx|=1200", [297.0, 300.0], [1.5, 0.05 + 4j]),
        ("core-shell metal core |Im mx|=1000", [100.0, 110.0], [1 + 10j, 1.5]),
        ("core-shell metal shell |Im mx|=1000", [90.0, 100.0], [1.5, 2 + 10j]),
        ("homogeneous |Im mx|=1000 (m=1.5+10i)", [100.0], [1.5 + 10j]),
        ("homogeneous |Im mx|=1000 (m=0.05+4i)", [250.0], [0.05 + 4j]),
        ("homogeneous x=1e-6 m=1.5", [1e-6], [1.5]),
        ("homogeneous x=1e-6 m=0.2+3i", [1e-6], [0.2 + 3j]),
        ("homogeneous x=1e-4 m=1.5 (Rayleigh)", [1e-4], [1.5]),
        ("core-shell x=1e-6", [5e-7, 1e-6], [1.5, 0.2 + 3j]),
        ("3 layers x=1e-6", [3e-7, 6e-7, 1e-6], [2 + 0.1j, 0.1 + 4j, 1.4]),
        ("core-shell equal materials", [5.0, 10.0], [1.5 + 0.1j, 1.5 + 0.1j]),
        ("core-shell shell thickness 1e-9 r", [10.0 * (1 - 1e-9), 10.0], [1.5, 0.2 + 3j]),
        ("core-shell core radius 1e-9 r", [1e-8, 10.0], [0.2 + 3j, 1.5]),
        ("homogeneous m=1+1e-8 x=1", [1.0], [1 + 1e-8]),
        ("homogeneous m=1+1e-8 x=100", [100.0], [1 + 1e-8]),
        ("homogeneous m=1+1e-8i x=10", [10.0], [1 + 1e-8j]),
        ("core-shell shell m=1+1e-8", [5.0, 10.0], [1.5, 1 + 1e-8]),
        ("core-shell core m=1+1e-8", [5.0, 10.0], [1 + 1e-8, 1.5]),
        ("core-shell index-matched shell m=1", [5.0, 10.0], [1.5, 1.0]),
    ]
    return [(lab, [float(v) for v in xs], [complex(v) for v in ms]) for lab, xs, ms in c]


# ============================================================================================
# Checks of the conventions and of mpref against published values
# ============================================================================================

def _check(rows, what, value, expected, tol, absolute=False):
    scale = 1.0 if absolute else np.maximum(np.abs(np.asarray(expected)), 1e-300)
    dev = float(np.max(np.abs(np.asarray(value) - np.asarray(expected)) / scale))
    rows.append((what, dev, tol, dev <= tol))


def check_conventions():
    """Verify numerically the convention of every peer (see the module docstring)."""
    import miepython
    import treams
    from scattnlay import scattcoeffs, scattnlay
    from treams.coeffs import mie
    rows = []
    # B&H Table 4.1 (5 significant digits)
    bh_a = [0.51631 - 0.49973j, 0.34192 - 0.47435j, 0.048467 - 0.21475j]
    bh_b = [0.73767 - 0.43990j, 0.40079 - 0.49006j, 9.3553e-3 - 9.6269e-2j]
    x, m = 3.0, 1.33
    _, a, b = scattcoeffs(np.array([x]), np.array([m + 0j]))
    _check(rows, "scattnlay a_n, b_n = B&H Table 4.1", np.r_[a[:3], b[:3]], bh_a + bh_b, 2e-4)
    am, bm = miepython.coefficients(m, x, n_pole=3)
    _check(rows, "miepython coefficients = B&H Table 4.1", np.r_[am, bm], bh_a + bh_b, 2e-4)
    tm = treams.TMatrix.sphere(3, 1.0, [x], [treams.Material(m ** 2), treams.Material()],
                               poltype="parity")
    d = np.diag(np.asarray(tm))
    pol = np.asarray(tm.basis.pol)
    l_ = np.asarray(tm.basis.l)
    mm = np.asarray(tm.basis.m)
    sel = mm == 0
    ta = -d[sel & (pol == 1)]
    tb = -d[sel & (pol == 0)]
    _check(rows, "treams TMatrix.sphere parity: -T(pol=1) = a_n, -T(pol=0) = b_n",
           np.r_[ta[np.argsort(l_[sel & (pol == 1)])], tb[np.argsort(l_[sel & (pol == 0)])]],
           bh_a + bh_b, 2e-4)
    with mp.workdps(30):
        ra, rb = mp_coefficients([x], [m], 5)
    _check(rows, "mpref a_n, b_n = B&H Table 4.1",
           [complex(v) for v in ra[:3] + rb[:3]], bh_a + bh_b, 2e-4)
    # absorbing sphere, MIEV0 (B&H convention, 6 digits): m = 1.5+1i, x = 1
    x, m = 1.0, 1.5 + 1j
    th = np.array([0.0, np.pi / 2, np.pi])
    s1_ref = [0.584080 - 0.190515j, 0.456340 - 0.167167j, 0.348844 - 0.146829j]
    s2_ref = [0.584080 - 0.190515j, 0.0362285 + 0.0618265j, -0.348844 + 0.146829j]
    out = scattnlay(np.array([x]), np.array([m]), theta=th)
    _check(rows, "scattnlay S1, S2 = B&H (MIEV0 m=1.5+1i, x=1)", np.r_[out[8], out[9]],
           s1_ref + s2_ref, 2e-6)
    s1m, s2m = miepython.S1_S2(m, x, np.cos(th), norm="wiscombe")
    _check(rows, "miepython S1_S2(norm='wiscombe') = conj(B&H)", np.r_[np.conj(s1m), np.conj(s2m)],
           s1_ref + s2_ref, 2e-6)
    s1b, _ = miepython.S1_S2(m, x, np.cos(th), norm="bohren")
    _check(rows, "miepython S1_S2(norm='bohren') = 2 conj(B&H S1)", np.conj(s1b) / 2, s1_ref, 2e-6)
    for sign in (+1, -1):
        am, bm = miepython.coefficients(complex(1.5, sign * 1.0), x, n_pole=12)
        ph = np_observables(am, bm, x, th)
        _check(rows, f"miepython coefficients(m=1.5{'+' if sign > 0 else '-'}1i) -> B&H S1, S2",
               np.r_[ph["s1"], ph["s2"]], s1_ref + s2_ref, 2e-6)
    T = mie(np.arange(1, 13), [x], [m ** 2, 1.0], [1.0, 1.0], [0.0, 0.0])
    ph = np_observables(-(T[:, 0, 0] + T[:, 0, 1]), -(T[:, 0, 0] - T[:, 0, 1]), x, th)
    _check(rows, "treams coeffs.mie -> a_n, b_n -> B&H S1, S2 (no conjugation)",
           np.r_[ph["s1"], ph["s2"]], s1_ref + s2_ref, 2e-6)
    ref = mpref(([x], [m]))
    qb = 4 * abs(ref["s1"][-1]) ** 2 / x ** 2
    _check(rows, "scattnlay Qbk = 4|S1(pi)|^2/x^2 = q_back", out[4], qb, 1e-12)
    _check(rows, "miepython efficiencies_mx qback = q_back", miepython.efficiencies_mx(m, x)[2],
           qb, 1e-12)
    _check(rows, "mpref q_back = 4|S1(pi)|^2/x^2", ref["q_back"], qb, 1e-14)
    _check(rows, "mpref q_fwd = 4|S1(0)|^2/x^2", ref["q_fwd"],
           4 * abs(ref["s1"][0]) ** 2 / x ** 2, 1e-14)
    _check(rows, "scattnlay Qext, Qsca, g = mpref", np.r_[out[1], out[2], out[6]],
           [ref["q_ext"], ref["q_sca"], ref["g"]], 1e-12)
    # treams helicity kernel vs its own parity T-matrix, layered
    xs, ms = [2.0, 3.0], [1.45, 0.2 + 3j]
    tm = treams.TMatrix.sphere(4, 1.0, xs, [treams.Material(v ** 2) for v in ms]
                               + [treams.Material()], poltype="parity")
    d = np.diag(np.asarray(tm))
    sel = (np.asarray(tm.basis.m) == 0)
    pol = np.asarray(tm.basis.pol)
    T = mie(np.arange(1, 5), xs, [v ** 2 for v in ms] + [1.0], [1.0] * 3, [0.0] * 3)
    _check(rows, "treams coeffs.mie = TMatrix.sphere diagonal (core-shell)",
           np.r_[d[sel & (pol == 1)], d[sel & (pol == 0)]],
           np.r_[T[:, 0, 0] + T[:, 0, 1], T[:, 0, 0] - T[:, 0, 1]], 1e-13)
    return rows


def published_checks(lookup):
    """mpref against the published values of ../shared/REFERENCES.md (to the printed digits).

    ``lookup(xs, ms, theta=None)`` returns mpref's values of a case (cached)."""
    rows = []
    du = MIEV0  # x, m, Qext, Qsca, g, S1(0), S1(180)  (B&H convention)
    for x, m, qe, qs, g, s0, s180 in du:
        r = lookup([float(x)], [complex(m)])
        vals = [r["q_ext"], r["q_sca"], r["s1"][0], r["s1"][-1]]
        exp = [qe, qs, s0, s180]
        # 6-7 printed digits; S1 is compared as a complex number relative to |S1|
        _check(rows, f"Du/MIEV0 x={x} m={m}: Qext, Qsca, S1(0), S1(180)", vals, exp, 1e-5)
        if g is not None:
            rows.append((f"Du/MIEV0 x={x} m={m}: g (absolute)", abs(r["g"] - g), 1e-6,
                         abs(r["g"] - g) <= 1e-6))
    yang = [((0.099668871748, 0.1), 1.393478e-3, 1.122189e-5, 1.67581e-5),
            ((1.096357589225, 1.1), 0.1487682, 0.13069, 0.101937),
            ((10.066556046521, 10.1), 2.11636, 1.920245, 0.2155814),
            ((99.768540619482, 100.1), 2.103456, 1.517152, 0.3805878)]
    for xs, qe, qs, qb in yang:
        r = lookup(list(xs), [1.33 + 0j, 1.59 + 0.66j])
        _check(rows, f"Yang 2003 water/soot x={xs[1]}: Qext, Qsca, Qback",
               [r["q_ext"], r["q_sca"], r["q_back"]], [qe, qs, qb], 5e-5)
    r = lookup([4.6416, 7.1138, 7.3925, 9.1680, 10.0],
               [1.8 + 1.7j, 0.8 + 0.7j, 1.2 + 0.09j, 2.8 + 0.2j, 1.5 + 0.4j])
    _check(rows, "five-layer sphere (n-mie case): Qext, Qsca, Qback",
           [r["q_ext"], r["q_sca"], r["q_back"]], [2.408248, 1.344227, 0.07439695], 1e-6)
    r = lookup([2.0, 3.0], [1.45 + 0j, 0.2 + 3j])
    _check(rows, "silica/gold-like core-shell: Qext, Qsca", [r["q_ext"], r["q_sca"]],
           [3.443931182, 3.182498444], 1e-9)
    r = lookup([1e-4], [1.5 + 0j])
    _check(rows, "Rayleigh x=1e-4 m=1.5: Qsca", r["q_sca"], 2.306805e-17, 1e-6)
    # B&H BHMIE phase matrix, m = 1.55, x = 5.213 (single precision: ~1e-3)
    th = np.deg2rad([0.0, 45.0, 90.0, 135.0, 180.0])
    r = lookup([5.213], [1.55 + 0j], theta=th)
    s1, s2 = r["s1"], r["s2"]
    s11 = 0.5 * (abs(s1) ** 2 + abs(s2) ** 2)
    s12 = 0.5 * (abs(s2) ** 2 - abs(s1) ** 2)
    s33 = (s1 * np.conj(s2)).real
    got = np.r_[s11[1:] / s11[0], -s12[1:4] / s11[1:4], s33[1:] / s11[1:]]
    exp = [0.0701845, 0.0124601, 0.00543998, 0.0383189,
           0.00959953, 0.230462, -0.850804, 0.959825, 0.937497, 0.187531, -1.0]
    _check(rows, "B&H BHMIE m=1.55 x=5.213: S11/S11(0), -S12/S11, S33/S11 (absolute)",
           got, exp, 1e-3, absolute=True)
    return rows


def print_checks(title, rows):
    print(f"\n{title}")
    for what, dev, tol, ok in rows:
        print(f"  {'ok ' if ok else 'BAD'} {dev:9.2e} (tol {tol:.0e})  {what}")
    bad = [r for r in rows if not r[3]]
    if bad:
        raise SystemExit(f"{len(bad)} check(s) failed in: {title}")


# ============================================================================================
# Main
# ============================================================================================

def _key(xs, ms):
    return (tuple(float(v) for v in xs), tuple(complex(v) for v in ms))


def published_cases():
    """(xs, ms) of the published checks computed in the pool (BHMIE angles done apart)."""
    out = []
    for x, m in [(0.099, 0.75), (0.101, 0.75), (10, 0.75), (1000, 0.75), (100, 1.33 + 1e-5j),
                 (10000, 1.33 + 1e-5j), (0.055, 1.5 + 1j), (0.056, 1.5 + 1j), (100, 1.5 + 1j),
                 (10000, 1.5 + 1j), (1, 10 + 10j), (100, 10 + 10j), (10000, 10 + 10j),
                 (1e-4, 1.5)]:
        out.append(([float(x)], [complex(m)]))
    for xs in [(0.099668871748, 0.1), (1.096357589225, 1.1), (10.066556046521, 10.1),
               (99.768540619482, 100.1)]:
        out.append((list(xs), [1.33 + 0j, 1.59 + 0.66j]))
    out.append(([4.6416, 7.1138, 7.3925, 9.1680, 10.0],
                [1.8 + 1.7j, 0.8 + 0.7j, 1.2 + 0.09j, 2.8 + 0.2j, 1.5 + 0.4j]))
    out.append(([2.0, 3.0], [1.45 + 0j, 0.2 + 3j]))
    return out


def ref_arrays(rows):
    d = {q: np.array([r["ref"][q] for r in rows], float) for q in SCALARS}
    for q in ("a", "b", "s1", "s2"):
        d[q] = np.array([r["ref"][q] for r in rows], complex)
    d["n_orders"] = np.array([r["ref"]["diag"]["N"] for r in rows], np.int32)
    d["mp_dps"] = np.array([r["ref"]["diag"]["dps"] for r in rows], np.int32)
    d["mp_self_err"] = np.array([r["ref"]["diag"]["self_err"] for r in rows], float)
    d["err_best"] = np.array([np.nanmin(np.array(list(r["err"].values())), axis=0)
                              for r in rows], float)
    d["scattnlay_nmax_reduced"] = np.array([r.get("nmax_reduced", False) for r in rows], bool)
    return d


def common_arrays():
    return {"theta": THETA, "theta_deg": THETA_DEG, "err_columns": np.array(COLUMNS),
            "tol": np.float64(TOL), "k_orders": np.int32(K)}


def keep_mask(rows):
    """Kept iff, for every column, at least one double-precision peer agrees with mpref."""
    keep, reasons = [], []
    for r in rows:
        best = np.nanmin(np.array(list(r["err"].values())), axis=0)
        bad = [f"{c} (best peer {b:.1e})" for c, b in zip(COLUMNS, best) if not b <= TOL]
        keep.append(not bad)
        reasons.append(", ".join(bad))
    return np.array(keep), reasons


def save_set(fname, cases, kinds, rows, summary):
    keep, reasons = keep_mask(rows)
    kr = [r for r, k in zip(rows, keep) if k]
    kc = [c for c, k in zip(cases, keep) if k]
    data = common_arrays()
    data["x"] = np.array([c[0] for c in kc], float)
    data["m"] = np.array([c[1] for c in kc], complex)
    data["kind"] = np.array([k for k, kk in zip(kinds, keep) if kk])
    data.update(ref_arrays(kr))
    for code in CODES:
        if all(code in r["err"] for r in kr):
            data[f"err_{code}"] = np.array([r["err"][code] for r in kr], float)
    np.savez_compressed(os.path.join(HERE, fname), **data)
    dropped = [(c, k, why) for c, k, kk, why in zip(cases, kinds, keep, reasons) if not kk]
    summary.append((fname, len(cases), kr, dropped, data))


def save_stress(cases, rows, summary):
    Lmax = max(len(xs) for _, xs, _ in cases)
    n = len(cases)
    x = np.full((n, Lmax), np.nan)
    m = np.full((n, Lmax), np.nan + 0j, complex)
    for i, (_, xs, ms) in enumerate(cases):
        x[i, : len(xs)] = xs
        m[i, : len(ms)] = ms
    data = common_arrays()
    data.update(x=x, m=m, n_layers=np.array([len(xs) for _, xs, _ in cases], np.int32),
                label=np.array([lab for lab, _, _ in cases]))
    data.update(ref_arrays(rows))
    for code in CODES:
        ran = np.array([code in r["err"] for r in rows])
        err = np.full((n, len(COLUMNS)), np.nan)
        fin = np.zeros((n, len(COLUMNS)), bool)
        for i, r in enumerate(rows):
            if code in r["err"]:
                err[i], fin[i] = r["err"][code], r["finite"][code]
        data[f"ran_{code}"], data[f"err_{code}"], data[f"finite_{code}"] = ran, err, fin
    np.savez_compressed(os.path.join(HERE, "stress.npz"), **data)
    summary.append(("stress.npz", n, rows, [], data))


def print_summary(summary, stress_cases_, stress_rows):
    print("\n" + "=" * 100)
    print(f"SUMMARY  (TOL = {TOL:g}; err = disagreement with mpref, metric as in errors())")
    for fname, n_all, kept, dropped, data in summary:
        if fname == "stress.npz":
            continue
        print(f"\n{fname}: {n_all} generated, {len(kept)} kept, {len(dropped)} dropped;"
              f" mpref self-consistency max {data['mp_self_err'].max():.1e},"
              f" dps {data['mp_dps'].min()}..{data['mp_dps'].max()};"
              f" scattnlay lowered its nmax in {int(data['scattnlay_nmax_reduced'].sum())}")
        hdr = "  code               " + " ".join(f"{c:>9s}" for c in COLUMNS)
        print(hdr + "   (max err over kept cases / number of kept cases with err > TOL)")
        errs = {c: np.array([r["err"][c] for r in kept]) for c in CODES
                if kept and all(c in r["err"] for r in kept)}
        for code, E in errs.items():
            print(f"  {code:18s} " + " ".join(f"{v:9.1e}" for v in np.nanmax(E, axis=0)))
            print(f"  {'':18s} " + " ".join(f"{v:9d}" for v in (E > TOL).sum(axis=0)))
        best = np.nanmin(np.stack(list(errs.values())), axis=0)
        print(f"  {'best peer (max)':18s} " + " ".join(f"{v:9.1e}" for v in best.max(axis=0)))
        for c, k, why in dropped:
            print(f"  dropped [{k}] x={[f'{v:.6g}' for v in c[0]]} m={c[1]}: {why}")
    print("\nstress.npz: which codes gave finite values, and their max err over columns")
    for (lab, xs, ms), r in zip(stress_cases_, stress_rows):
        parts = []
        for code in CODES:
            if code not in r["err"]:
                continue
            fin = r["finite"][code]
            e = r["err"][code]
            nonfin = [c for c, f, v in zip(COLUMNS, fin, e) if not f and not np.isnan(v)]
            worst = COLUMNS[int(np.nanargmax(e))]
            txt = f"{code}: " + (f"NON-FINITE {','.join(nonfin)}" if nonfin else
                                 f"{np.nanmax(e):.0e} ({worst})")
            parts.append(txt)
        print(f"  {lab:46s} dps {r['ref']['diag']['dps']:4d} | " + "; ".join(parts))


def main():
    t_start = time.time()
    print(f"numpy {np.__version__}, mpmath {mp.__version__}, scattnlay {version('scattnlay')}, "
          f"treams {version('treams')}, miepython {version('miepython')}")
    print(f"mpref riccati self-test vs mpmath Bessel functions: max rel err "
          f"{selftest_riccati():.1e}")
    print_checks("Peer conventions (numerical checks)", check_conventions())

    sets = [("homogeneous.npz",) + homogeneous_cases(), ("coreshell.npz",) + coreshell_cases()]
    sets += [(f"multilayer_L{L}.npz",) + multilayer_cases(L) for L in (3, 4, 5)]
    stress = stress_cases()
    extra = published_cases()
    all_cases = [(xs, ms) for _, xs, ms in stress] + extra
    for _, cases, _ in sets:
        all_cases += cases
    uniq = list(dict.fromkeys(_key(*c) for c in all_cases))
    workers = max(1, min(8, os.cpu_count() or 1))
    print(f"\nmpref: {len(uniq)} distinct cases on {workers} processes ...", flush=True)
    t0 = time.time()
    with ProcessPoolExecutor(workers) as pool:
        refs = dict(zip(uniq, pool.map(mpref, [(list(k[0]), list(k[1])) for k in uniq],
                                       chunksize=1)))
    print(f"mpref done in {time.time() - t0:.0f} s", flush=True)

    def lookup(xs, ms, theta=None):
        if theta is None:
            return refs[_key(xs, ms)]
        with mp.workdps(60):
            a, b = mp_coefficients(xs, ms, n_orders(xs[-1]))
        return mp_observables(a, b, xs[-1], theta)

    print_checks("mpref against published values (REFERENCES.md)", published_checks(lookup))

    t0 = time.time()
    summary = []
    for fname, cases, kinds in sets:
        rows = run_set(cases, refs)
        save_set(fname, cases, kinds, rows, summary)
    stress_rows = run_set([(xs, ms) for _, xs, ms in stress], refs)
    save_stress(stress, stress_rows, summary)
    print(f"peers done in {time.time() - t0:.0f} s")
    print_summary(summary, stress, stress_rows)
    sizes = {f: os.path.getsize(os.path.join(HERE, f)) for f, *_ in summary}
    print("\nfiles: " + ", ".join(f"{f} {s / 1024:.0f} kB" for f, s in sizes.items())
          + f"; total {sum(sizes.values()) / 1024:.0f} kB; {time.time() - t_start:.0f} s in all")


if __name__ == "__main__":
    main()
