// Mie coefficients of layered spheres on the CPU: the algorithm of jaxmie._layered
// (Yang 2003 / Pena & Pal 2009; see jaxmie/_special.py and jaxmie/_layered.py for the
// formulas and their references), written as a per-particle loop.
//
// Why native code: XLA runs each step of an order recurrence as one pass over the whole
// batch in memory, so the cost is memory traffic, not arithmetic. Here a particle's
// recurrences stay in registers; W particles advance together in "lanes" so that the
// dependent divisions of one recurrence overlap with the others'.
//
// XLA FFI handlers, all float64 / complex128, batch = every axis but the last:
//   JaxmieSeries:   x (..., L) f64, m (..., L) c128
//                   -> a, b (..., N) c128, absorption_a, absorption_b (..., N) f64
//   JaxmieSeriesJacobian: the same inputs -> the same outputs plus their derivatives:
//                   da, db (..., N, 2L) c128: d/dx_1..x_L, then the complex derivative
//                   d/dm_1..m_L (a_n and b_n are analytic in every m_l);
//                   dabsorption_a, dabsorption_b (..., N, 3L) f64: d/dx_l, d/dRe m_l,
//                   d/dIm m_l (not analytic: Im h enters).
//   JaxmieEfficiencySums: x, m -> the seven sums over orders behind every efficiency
//                   (..., 7) (jaxmie._native.efficiency_sums), the coefficients never
//                   written out;
//   JaxmieEfficiencySumsJacobian: x, m -> the sums and their derivatives (..., 7, 3L) along
//                   x_l, Re m_l, Im m_l, accumulated order by order.
// Near index matching the interface numerators take _layered._contrast's split form
// (the deviation H - D1 carried through the layers, and d1_difference's recurrence for the
// difference of D1 across the interface), only in lane groups where some interface is
// nearly matched.
// The derivatives are forward-mode dual numbers through the layer recurrence and the
// closed forms of _special.riccati_bessel's JVP rule for the Riccati-Bessel sequences; the
// Jacobian handlers take L <= 4.

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <complex>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using cplx = std::complex<double>;

namespace {

// The lane and dual-number operators are tiny; without forced inlining GCC leaves the dual
// ones (K + 1 lane vectors) as calls.
#define INLINE inline __attribute__((always_inline))

constexpr double kStartTolerance = 1e-17;  // as _special._START_TOLERANCE
constexpr double kMaxStartOrder = 1e8;     // as _special._MAX_START_ORDER

// kStartTable[e - 1] = c / (1 + c^2) with c = (kStartTolerance / 3)^(1 / 2e): riccati's start
// order takes e extra orders where |z| <= (2 order + 1) kStartTable[e - 1].
constexpr int kStartTableSize = 24;
const auto kStartTable = [] {
  std::array<double, kStartTableSize> table;
  for (int i = 0; i < kStartTableSize; ++i) {
    const double c = std::pow(kStartTolerance / 3, 1.0 / (2.0 * (i + 1)));
    table[i] = c / (1 + c * c);
  }
  return table;
}();

// W complex numbers with split real and imaginary parts, so that lane loops vectorise.
template <int W>
struct V {
  double re[W], im[W];
};

// A loop over the lanes, vectorised whatever the compiler's cost model says (-fopenmp-simd);
// its iterations must be independent (a reduction over lanes is a plain loop).
#define LANES _Pragma("omp simd") for (int j = 0; j < W; ++j)

template <int W>
INLINE V<W> splat(double re, double im) {
  V<W> c;
  LANES { c.re[j] = re; c.im[j] = im; }
  return c;
}
template <int W>
INLINE V<W> operator+(const V<W>& a, const V<W>& b) {
  V<W> c;
  LANES { c.re[j] = a.re[j] + b.re[j]; c.im[j] = a.im[j] + b.im[j]; }
  return c;
}
template <int W>
INLINE V<W> operator-(const V<W>& a, const V<W>& b) {
  V<W> c;
  LANES { c.re[j] = a.re[j] - b.re[j]; c.im[j] = a.im[j] - b.im[j]; }
  return c;
}
template <int W>
INLINE V<W> operator*(const V<W>& a, const V<W>& b) {
  V<W> c;
  LANES {
    c.re[j] = a.re[j] * b.re[j] - a.im[j] * b.im[j];
    c.im[j] = a.re[j] * b.im[j] + a.im[j] * b.re[j];
  }
  return c;
}
template <int W>
INLINE V<W> operator*(double s, const V<W>& a) {
  V<W> c;
  LANES { c.re[j] = s * a.re[j]; c.im[j] = s * a.im[j]; }
  return c;
}
template <int W>
INLINE V<W> times_i(const V<W>& a) {
  V<W> c;
  LANES { c.re[j] = -a.im[j]; c.im[j] = a.re[j]; }
  return c;
}
// Division by Smith's algorithm (as XLA's): divide by the larger of |Re b|, |Im b| first, so
// that nothing overflows and a real divisor gives correctly rounded quotients (the
// index-matched sphere, m -> 1, amplifies every rounding of D1(mx)/m by 1/|m - 1|).
template <int W>
INLINE V<W> operator/(const V<W>& a, const V<W>& b) {
  V<W> c;
  LANES {
    bool real_larger = std::fabs(b.re[j]) >= std::fabs(b.im[j]);
    double p = real_larger ? b.re[j] : b.im[j], q = real_larger ? b.im[j] : b.re[j];
    double t = q / p, d = p + q * t;
    double u = real_larger ? a.re[j] : a.im[j], v = real_larger ? a.im[j] : a.re[j];
    c.re[j] = (u + v * t) / d;
    double w = (v - u * t) / d;
    c.im[j] = real_larger ? w : -w;
  }
  return c;
}
template <int W>
INLINE V<W> inv(const V<W>& b) {  // 1/b as (1 + 0i)/b above, with one division fewer
  V<W> c;
  LANES {
    bool real_larger = std::fabs(b.re[j]) >= std::fabs(b.im[j]);
    double p = real_larger ? b.re[j] : b.im[j], q = real_larger ? b.im[j] : b.re[j];
    double t = q / p, s = 1.0 / (p + q * t);
    c.re[j] = real_larger ? s : t * s;
    c.im[j] = real_larger ? -t * s : -s;
  }
  return c;
}
template <int W>
INLINE V<W> exp(const V<W>& w) {
  V<W> c;
  LANES {
    double e = std::exp(w.re[j]);
    c.re[j] = e * std::cos(w.im[j]);
    c.im[j] = e * std::sin(w.im[j]);
  }
  return c;
}
template <int W>
INLINE cplx lane(const V<W>& a, int j) {
  return cplx(a.re[j], a.im[j]);
}
template <int W>
INLINE void set_lane(V<W>& a, int j, cplx v) {
  a.re[j] = v.real();
  a.im[j] = v.imag();
}

// Dual numbers: a value and K complex tangents, each a lane vector.
template <int W, int K>
struct D {
  V<W> v, d[K];
};

template <int W, int K>
INLINE D<W, K> operator+(const D<W, K>& a, const D<W, K>& b) {
  D<W, K> c;
  c.v = a.v + b.v;
  for (int k = 0; k < K; ++k) c.d[k] = a.d[k] + b.d[k];
  return c;
}
template <int W, int K>
INLINE D<W, K> operator-(const D<W, K>& a, const D<W, K>& b) {
  D<W, K> c;
  c.v = a.v - b.v;
  for (int k = 0; k < K; ++k) c.d[k] = a.d[k] - b.d[k];
  return c;
}
template <int W, int K>
INLINE D<W, K> operator*(const D<W, K>& a, const D<W, K>& b) {
  D<W, K> c;
  c.v = a.v * b.v;
  for (int k = 0; k < K; ++k) c.d[k] = a.d[k] * b.v + a.v * b.d[k];
  return c;
}
template <int W, int K>
INLINE D<W, K> operator*(double s, const D<W, K>& a) {
  D<W, K> c;
  c.v = s * a.v;
  for (int k = 0; k < K; ++k) c.d[k] = s * a.d[k];
  return c;
}
template <int W, int K>
INLINE D<W, K> times_i(const D<W, K>& a) {
  D<W, K> c;
  c.v = times_i(a.v);
  for (int k = 0; k < K; ++k) c.d[k] = times_i(a.d[k]);
  return c;
}
template <int W, int K>
INLINE D<W, K> inv(const D<W, K>& b) {
  D<W, K> c;
  c.v = inv(b.v);
  V<W> minus_sq = -1.0 * (c.v * c.v);
  for (int k = 0; k < K; ++k) c.d[k] = minus_sq * b.d[k];
  return c;
}
template <int W, int K>
INLINE D<W, K> operator/(const D<W, K>& a, const D<W, K>& b) {
  D<W, K> c;
  const V<W> r = inv(b.v);
  c.v = a.v * r;
  for (int k = 0; k < K; ++k) c.d[k] = (a.d[k] - c.v * b.d[k]) * r;
  return c;
}
template <int W, int K>
INLINE D<W, K> exp(const D<W, K>& w) {
  D<W, K> c;
  c.v = exp(w.v);
  for (int k = 0; k < K; ++k) c.d[k] = c.v * w.d[k];
  return c;
}

template <int W>
INLINE V<W> value(const V<W>& a) {
  return a;
}
template <int W, int K>
INLINE V<W> value(const D<W, K>& a) {
  return a.v;
}
// A value with tangents derivative * (tangents of z): the chain rule through a function of z.
template <int W>
INLINE V<W> chain(const V<W>& value, const V<W>&, const V<W>&) {
  return value;
}
template <int W, int K>
INLINE D<W, K> chain(const V<W>& value, const V<W>& derivative, const D<W, K>& z) {
  D<W, K> c;
  c.v = value;
  for (int k = 0; k < K; ++k) c.d[k] = derivative * z.d[k];
  return c;
}
// q r, where r is a function of z1 and z2 with d(log r)/dz1 = g1, d(log r)/dz2 = g2.
template <int W>
INLINE V<W> times_ratio(const V<W>& q, const V<W>& r, const V<W>&, const V<W>&, const V<W>&,
                        const V<W>&) {
  return q * r;
}
template <int W, int K>
INLINE D<W, K> times_ratio(const D<W, K>& q, const V<W>& r, const V<W>& g1, const D<W, K>& z1,
                           const V<W>& g2, const D<W, K>& z2) {
  D<W, K> c;
  c.v = q.v * r;
  for (int k = 0; k < K; ++k) c.d[k] = q.d[k] * r + c.v * (g1 * z1.d[k] + g2 * z2.d[k]);
  return c;
}
// Riccati-Bessel sequences at W arguments, orders 1..N at index n - 1 (_special.RiccatiBessel).
template <int W>
struct Riccati {
  V<W>*d1, *d3, *psi_ratio, *zeta_ratio;  // ratios: order n >= 2 at index n - 1
  V<W> u;                                  // exp(iz) psi_1(z)
};

// _special._start_order for W arguments, in lane loops that vectorise: start[j] and the
// largest of them (returned).
template <int W>
int start_orders(const V<W>& z, int n_max, int (&start)[W]) {
  double size[W];
  int order[W], extra[W];
  LANES size[j] = std::sqrt(z.re[j] * z.re[j] + z.im[j] * z.im[j]);
  for (int j = 0; j < W; ++j) {
    // needed <= n_max, i.e. 4 cbrt(size) <= n_max - 2 - size, decided without the cbrt.
    const double spare = n_max - 2.0 - size[j];
    order[j] = n_max;
    if (!(spare >= 0.0 && 64.0 * size[j] <= spare * spare * spare)) {
      double needed = std::min(size[j] + 4.0 * std::cbrt(size[j]) + 2.0, kMaxStartOrder);
      if (!std::isfinite(needed)) needed = 0.0;
      order[j] = std::max(n_max, static_cast<int>(std::ceil(needed)));
    }
  }
  // The fewest extra orders e with 3 rho^(2e) <= kStartTolerance, rho bounding every ratio
  // above `order`, without the square root and division of rho (they sit on the critical
  // path of the recurrence): rho <= c iff |z| <= (2 order + 1) c / (1 + c^2), so e is one
  // more than the number of table entries this fails, up to the table's end.
  LANES {
    const double two_m_1 = 2.0 * order[j] + 1.0;
    extra[j] = 1;
    for (int i = 0; i < kStartTableSize; ++i) extra[j] += size[j] > two_m_1 * kStartTable[i];
  }
  for (int j = 0; j < W; ++j) {
    if (extra[j] <= kStartTableSize) continue;
    const double two_m_1 = 2.0 * order[j] + 1.0;
    const double rho = 2.0 * size[j] / (two_m_1 + std::sqrt((two_m_1 - 2.0 * size[j]) *
                                                            (two_m_1 + 2.0 * size[j])));
    const double e = std::ceil(std::log(kStartTolerance / 3) / (2 * std::log(rho)));
    extra[j] = std::isfinite(e) ? int(std::min(e, kMaxStartOrder)) : 1;  // as _start_order
  }
  int top = 0;
  LANES start[j] = order[j] + extra[j];
  for (int j = 0; j < W; ++j) top = std::max(top, start[j]);  // not LANES: a reduction
  return top;
}

template <int W>
void riccati(const V<W>& z, int n_max, bool need_d3, Riccati<W>& rb) {
  V<W> inv_z = inv(z);
  int start[W];
  const int top = start_orders(z, n_max, start);
  // psi_{n_max+1}/psi_{n_max} by the downward continued fraction, then D1 and the psi
  // ratios downward; each lane starts at its own order, so that a particle's result does
  // not depend on its neighbours. A real argument (the host's x, lossless layers) takes
  // real arithmetic, which gives the same numbers: Smith's 1/b of a real b is 1/Re b.
  bool real_argument = true;
  for (int j = 0; j < W; ++j) real_argument = real_argument && z.im[j] == 0.0;
  if (real_argument) {
    double inv_x[W], r[W];
    LANES {
      inv_x[j] = 1.0 / z.re[j];
      r[j] = 0.0;
    }
    for (int k = top; k > n_max; --k) {
      LANES {
        const double next = 1.0 / (double(2 * k + 1) * inv_x[j] - r[j]);
        r[j] = k <= start[j] ? next : 0.0;
      }
    }
    for (int k = n_max; k >= 1; --k) {
      V<W>&d1 = rb.d1[k - 1], &ratio = rb.psi_ratio[k - 1];
      LANES {
        d1.re[j] = double(k + 1) * inv_x[j] - r[j];
        r[j] = 1.0 / (d1.re[j] + double(k) * inv_x[j]);
        ratio.re[j] = r[j];
        d1.im[j] = ratio.im[j] = 0.0;
      }
    }
  } else {
    V<W> r = splat<W>(0, 0);
    for (int k = top; k > n_max; --k) {
      V<W> next = inv(double(2 * k + 1) * inv_z - r);
      LANES {
        bool on = k <= start[j];
        r.re[j] = on ? next.re[j] : 0.0;
        r.im[j] = on ? next.im[j] : 0.0;
      }
    }
    for (int k = n_max; k >= 1; --k) {
      V<W> d1 = double(k + 1) * inv_z - r;
      r = inv(d1 + double(k) * inv_z);
      rb.d1[k - 1] = d1;
      rb.psi_ratio[k - 1] = r;
    }
  }
  if (!need_d3) return;
  bool direct[W];
  LANES {
    cplx zj = lane(z, j);
    const double s = std::sin(zj.real()), c = std::cos(zj.real());  // one sincos call
    // exp(-2y) and expm1(-2y) from one call: each from the other where that cancels nothing.
    const double two_y = -2.0 * zj.imag();
    double ex, exm1;
    if (std::fabs(two_y) < 0.5) {
      exm1 = std::expm1(two_y);
      ex = exm1 + 1.0;
    } else {
      ex = std::exp(two_y);
      exm1 = ex - 1.0;
    }
    // e = expm1(2iz) = expm1(-2y) cos 2x - 2 sin^2 x + i exp(-2y) sin 2x, without
    // cancellation near z = k pi.
    cplx e(exm1 * (1.0 - 2.0 * s * s) - 2.0 * s * s, ex * (2.0 * s * c));
    bool use_product = std::norm(e) > 0.25 || std::norm(zj) < 1.0;  // |e| > 1/2 or |z| < 1
    const cplx e_over_2i(0.5 * e.imag(), -0.5 * e.real());  // exact: e / (2i) = -i e / 2
    cplx u = use_product ? e_over_2i * lane(rb.psi_ratio[0], j)
                         : e / (cplx(0, 2) * zj) - (e + 2.0) / 2.0;
    set_lane(rb.u, j, u);
    direct[j] = zj.imag() < 1.0;
  }
  // Upward D3: direct recurrence near the real axis, Wronskian form above (_special.py).
  auto d3_at = [&](int k, const V<W>& s, const V<W>& psi_zeta) {
    const V<W> recurrence = -double(k) * inv_z, wronskian = -1.0 * times_i(psi_zeta);
    const V<W>& d1 = rb.d1[k - 1];
    V<W> base, den;
    LANES {
      base.re[j] = direct[j] ? recurrence.re[j] : d1.re[j];
      base.im[j] = direct[j] ? recurrence.im[j] : d1.im[j];
      den.re[j] = direct[j] ? s.re[j] : wronskian.re[j];
      den.im[j] = direct[j] ? s.im[j] : wronskian.im[j];
    }
    return base + inv(den);
  };
  V<W> s = inv_z - splat<W>(0, 1);
  bool all_direct = true;
  for (int j = 0; j < W; ++j) all_direct = all_direct && direct[j];
  if (all_direct) {  // the usual case, without the unused psi_n zeta_n products
    rb.d3[0] = -1.0 * inv_z + inv(s);
    for (int k = 2; k <= n_max; ++k) {
      s = double(k) * inv_z - rb.d3[k - 2];
      rb.d3[k - 1] = -double(k) * inv_z + inv(s);
      rb.zeta_ratio[k - 1] = s;
    }
    return;
  }
  V<W> psi_zeta = -1.0 * times_i(rb.u * s);
  rb.d3[0] = d3_at(1, s, psi_zeta);
  for (int k = 2; k <= n_max; ++k) {
    s = double(k) * inv_z - rb.d3[k - 2];
    psi_zeta = psi_zeta * (rb.psi_ratio[k - 1] * s);
    rb.d3[k - 1] = d3_at(k, s, psi_zeta);
    rb.zeta_ratio[k - 1] = s;
  }
}

// E_n = D1_n(z1 + dz) - D1_n(z1), n = 1..n_max, without cancellation for small dz
// (_special.log_derivative_difference). With r_k = psi_k/psi_{k-1} = 1/(D_k + k/z) and
// w = 1/z1 - 1/z2 = dz / (z1 z2), the difference t = r(z2) - r(z1) obeys
// t_k = ((2k+1) w + t_{k+1}) r_k(z1) r_k(z2) above n_max (both continued fractions from one
// start order), and E_k = -(k+1) w - t_{k+1}, t_k = -(E_k - k w) r_k(z1) r_k(z2) below it,
// with the ratios of s1 and s2, the sequences at z1 and z2.
template <int W>
void d1_difference(const V<W>& z1, const V<W>& dz, const Riccati<W>& s1, const Riccati<W>& s2,
                   int n_max, V<W>* e) {
  const V<W> z2 = z1 + dz, inv1 = inv(z1), inv2 = inv(z2), w = dz * (inv1 * inv2);
  int start1[W], start2[W], start[W];
  const int top = std::max(start_orders(z1, n_max, start1), start_orders(z2, n_max, start2));
  LANES start[j] = std::max(start1[j], start2[j]);
  V<W> r1 = splat<W>(0, 0), r2 = r1, t = r1;
  for (int k = top; k > n_max; --k) {
    const double c = 2.0 * k + 1.0;
    const V<W> n1 = inv(c * inv1 - r1), n2 = inv(c * inv2 - r2);
    const V<W> nt = (c * w + t) * (n1 * n2);
    LANES {
      const bool on = k <= start[j];
      r1.re[j] = on ? n1.re[j] : 0.0;
      r1.im[j] = on ? n1.im[j] : 0.0;
      r2.re[j] = on ? n2.re[j] : 0.0;
      r2.im[j] = on ? n2.im[j] : 0.0;
      t.re[j] = on ? nt.re[j] : 0.0;
      t.im[j] = on ? nt.im[j] : 0.0;
    }
  }
  for (int k = n_max; k >= 1; --k) {
    const V<W> ek = -double(k + 1) * w - t;
    e[k - 1] = ek;
    t = -1.0 * ((ek - double(k) * w) * (s1.psi_ratio[k - 1] * s2.psi_ratio[k - 1]));
  }
}

// The Riccati-Bessel sequences at z as numbers of type T, with the closed-form tangents of
// _special.riccati_bessel's JVP rule.
template <class T, int W>
struct Lifted {
  const Riccati<W>& rb;
  T z;
  V<W> inv_z_sq;
  Lifted(const Riccati<W>& rb, const T& z) : rb(rb), z(z) {
    V<W> iz = inv(value(z));
    inv_z_sq = iz * iz;
  }
  V<W> riccati_eq(int n, const V<W>& d) const {  // dD_n/dz = n(n+1)/z^2 - 1 - D_n^2
    return double(n) * double(n + 1) * inv_z_sq - splat<W>(1, 0) - d * d;
  }
  T d1(int i) const { return chain(rb.d1[i], riccati_eq(i + 1, rb.d1[i]), z); }
  T d3(int i) const { return chain(rb.d3[i], riccati_eq(i + 1, rb.d3[i]), z); }
  T u() const { return chain(rb.u, rb.u * (splat<W>(0, 1) + rb.d1[0]), z); }
};

// E_n = D1_n(z1 + dz) - D1_n(z1) (d1_difference) as a number of type T, with the tangents of
// _special.log_derivative_difference's rule: dE = D'(z2) d(dz) + [D'(z2) - D'(z1)] dz1,
// D'(z2) - D'(z1) = -n(n+1) w (1/z1 + 1/z2) - E (D1(z1) + D1(z2)), w = dz / (z1 z2); d1, d2 are
// D1_n(z1), D1_n(z2) and n counts from 1.
template <int W>
INLINE V<W> lift_difference(const V<W>& e, const V<W>&, const V<W>&, const V<W>&,
                            const V<W>&, int) {
  return e;
}
template <int W, int K>
INLINE D<W, K> lift_difference(const V<W>& e, const V<W>& d1, const V<W>& d2,
                               const D<W, K>& z1, const D<W, K>& dz, int n) {
  const V<W> z2 = z1.v + dz.v, inv1 = inv(z1.v), inv2 = inv(z2);
  const double nn = double(n) * double(n + 1);
  const V<W> slope2 = nn * (inv2 * inv2) - splat<W>(1, 0) - d2 * d2;
  const V<W> gap = (-nn) * ((dz.v * inv1 * inv2) * (inv1 + inv2)) - e * (d1 + d2);
  D<W, K> c;
  c.v = e;
  for (int k = 0; k < K; ++k) c.d[k] = slope2 * dz.d[k] + gap * z1.d[k];
  return c;
}

template <int W>
INLINE V<W> select(const bool (&mask)[W], const V<W>& a, const V<W>& b) {
  V<W> c;
  LANES {
    c.re[j] = mask[j] ? a.re[j] : b.re[j];
    c.im[j] = mask[j] ? a.im[j] : b.im[j];
  }
  return c;
}
template <int W, int K>
INLINE D<W, K> select(const bool (&mask)[W], const D<W, K>& a, const D<W, K>& b) {
  D<W, K> c;
  c.v = select(mask, a.v, b.v);
  for (int k = 0; k < K; ++k) c.d[k] = select(mask, a.d[k], b.d[k]);
  return c;
}

constexpr double kSplitContrast = 1.0 / 16;  // as _layered._SPLIT_CONTRAST

// Lanes whose interface between indices m_a and m_b is nearly index-matched.
template <int W>
INLINE void near_matched(const V<W>& m_a, const V<W>& m_b, bool (&near)[W]) {
  for (int j = 0; j < W; ++j) {
    const cplx a = lane(m_a, j), b = lane(m_b, j);
    near[j] = std::abs(a - b) <= kSplitContrast * std::min(std::abs(a), std::abs(b));
  }
}

// G1 = m_h H - m_d D1(z_out) across an interface (_layered._contrast), direct form;
// `side` holds the sequences at z_out. Duals take their tangents from the partial
// derivatives (D1's tangent is never formed).
template <int W>
INLINE V<W> direct_contrast(const V<W>& h, const V<W>& m_h, const V<W>& m_d,
                            const Lifted<V<W>, W>& side, int n) {
  return m_h * h - m_d * side.rb.d1[n];
}
template <int W, int K>
INLINE D<W, K> direct_contrast(const D<W, K>& h, const D<W, K>& m_h, const D<W, K>& m_d,
                               const Lifted<D<W, K>, W>& side, int n) {
  const V<W>& d1 = side.rb.d1[n];
  D<W, K> c;
  c.v = m_h.v * h.v - m_d.v * d1;
  const V<W> c_d = -1.0 * d1, c_z = -1.0 * (m_d.v * side.riccati_eq(n + 1, d1));
  for (int k = 0; k < K; ++k)
    c.d[k] = m_h.v * h.d[k] + h.v * m_h.d[k] + c_d * m_d.d[k] + c_z * side.z.d[k];
  return c;
}

// The split form m_h delta + (m_h - m_d) D1(z_in) - m_d E of the same G1, every term a
// multiple of a contrast (delta = H - D1(z_in), E = D1(z_out) - D1(z_in)); for nearly
// matched interfaces only, so plain dual arithmetic.
template <class T>
INLINE T split_contrast(const T& delta, const T& d1_in, const T& e, const T& m_h, const T& m_d) {
  return m_h * delta + (m_h - m_d) * d1_in - m_d * e;
}

// Which lanes of an interface take the split form: none, all, or some (both computed).
enum class Split { kNone, kAll, kSome };
template <int W>
INLINE Split split_lanes(const bool (&near)[W]) {
  int count = 0;
  for (int j = 0; j < W; ++j) count += near[j];
  return count == 0 ? Split::kNone : count == W ? Split::kAll : Split::kSome;
}

// H and its deviation from D1(z_o) at the outer surface of a layer from G1 across its inner
// interface (_layered._through_layer); the deviation's tangents only if want_delta (the
// next interface takes the split form somewhere). G2 = m_h h - m_d D3i and
// H = (G2 D1o - Q D3o) / (G2 - Q), H - D1o = -Q (D3o - D1o) / (G2 - Q), Q = q G1.
// outer / inner hold the sequences at z_o and z_i.
template <int W>
struct Through {
  V<W> g2, qg1, inv_den, h, delta;
  INLINE Through(const V<W>& h_in, const V<W>& g1, const V<W>& m_h, const V<W>& m_d,
                 const V<W>& d3i, const V<W>& d1o, const V<W>& d3o, const V<W>& q) {
    g2 = m_h * h_in - m_d * d3i;
    qg1 = q * g1;
    inv_den = inv(g2 - qg1);
    h = (g2 * d1o - qg1 * d3o) * inv_den;
    delta = -1.0 * (qg1 * (d3o - d1o)) * inv_den;
  }
};
template <int W>
INLINE void through(const V<W>& h, const V<W>& g1, const V<W>& m_h, const V<W>& m_d,
                    const Lifted<V<W>, W>& outer, const Lifted<V<W>, W>& inner, int n,
                    const V<W>& q, V<W>& h_out, V<W>& delta_out, bool) {
  const Through<W> at(h, g1, m_h, m_d, inner.rb.d3[n], outer.rb.d1[n], outer.rb.d3[n], q);
  h_out = at.h;
  delta_out = at.delta;
}
// With tangents from H's partial derivatives (A = D1o - H, B = D3o - H, den = G2 - Q):
// dH den = A dG2 - B dQ + (G2 D1o' - Q D3o') dz_o, dG2 = m_h dh + h dm_h - D3i dm_d
// - m_d D3i' dz_i, dQ = q dG1 + G1 dq, and d(H - D1o) = dH - D1o' dz_o.
template <int W, int K>
INLINE void through(const D<W, K>& h, const D<W, K>& g1, const D<W, K>& m_h,
                    const D<W, K>& m_d, const Lifted<D<W, K>, W>& outer,
                    const Lifted<D<W, K>, W>& inner, int n, const D<W, K>& q, D<W, K>& h_out,
                    D<W, K>& delta_out, bool want_delta) {
  const V<W>&d1o = outer.rb.d1[n], &d3o = outer.rb.d3[n], &d3i = inner.rb.d3[n];
  const Through<W> at(h.v, g1.v, m_h.v, m_d.v, d3i, d1o, d3o, q.v);
  const V<W> a = (d1o - at.h) * at.inv_den, b = (d3o - at.h) * at.inv_den;
  const V<W> slope_d1o = outer.riccati_eq(n + 1, d1o);
  const V<W> c_h = a * m_h.v, c_mh = a * h.v, c_md = -1.0 * (a * d3i);
  const V<W> c_i = -1.0 * (a * (m_d.v * inner.riccati_eq(n + 1, d3i)));
  const V<W> c_g1 = -1.0 * (b * q.v), c_q = -1.0 * (b * g1.v);
  const V<W> c_o = (at.g2 * slope_d1o - at.qg1 * outer.riccati_eq(n + 1, d3o)) * at.inv_den;
  const V<W> c_o_delta = c_o - slope_d1o;
  h_out.v = at.h;
  delta_out.v = at.delta;
  for (int k = 0; k < K; ++k) {
    const V<W> common = c_h * h.d[k] + c_mh * m_h.d[k] + c_md * m_d.d[k] + c_g1 * g1.d[k] +
                        c_q * q.d[k] + c_i * inner.z.d[k];
    h_out.d[k] = common + c_o * outer.z.d[k];
    if (want_delta) delta_out.d[k] = common + c_o_delta * outer.z.d[k];
  }
}

// through() with the direct G1 = m_h h - m_d D1i, the usual case: tangents from H's partial
// derivatives in h, m_h, m_d, q, z_o and z_i (D's tangents never formed):
// dH den = (A - q B)(m_h dh + h dm_h) + (q D1i B - D3i A) dm_d - G1 B dq
//        + (G2 D1o' - Q D3o') dz_o + m_d (q B D1i' - A D3i') dz_i.
template <int W>
INLINE void through_direct(const V<W>& h, const V<W>& m_h, const V<W>& m_d,
                           const Lifted<V<W>, W>& outer, const Lifted<V<W>, W>& inner, int n,
                           const V<W>& q, V<W>& h_out, V<W>& delta_out, bool want_delta) {
  through(h, direct_contrast(h, m_h, m_d, inner, n), m_h, m_d, outer, inner, n, q, h_out,
          delta_out, want_delta);
}
template <int W, int K>
INLINE void through_direct(const D<W, K>& h, const D<W, K>& m_h, const D<W, K>& m_d,
                           const Lifted<D<W, K>, W>& outer, const Lifted<D<W, K>, W>& inner,
                           int n, const D<W, K>& q, D<W, K>& h_out, D<W, K>& delta_out,
                           bool want_delta) {
  const V<W>&d1o = outer.rb.d1[n], &d3o = outer.rb.d3[n];
  const V<W>&d1i = inner.rb.d1[n], &d3i = inner.rb.d3[n];
  const V<W> g1 = m_h.v * h.v - m_d.v * d1i;
  const Through<W> at(h.v, g1, m_h.v, m_d.v, d3i, d1o, d3o, q.v);
  const V<W> a = d1o - at.h, b = d3o - at.h, p = (a - q.v * b) * at.inv_den;
  const V<W> c_h = m_h.v * p, c_mh = h.v * p;
  const V<W> c_md = (q.v * d1i * b - d3i * a) * at.inv_den, c_q = -1.0 * (g1 * b * at.inv_den);
  const V<W> slope_d1o = outer.riccati_eq(n + 1, d1o);
  const V<W> c_o = (at.g2 * slope_d1o - at.qg1 * outer.riccati_eq(n + 1, d3o)) * at.inv_den;
  const V<W> c_i = m_d.v * (q.v * b * inner.riccati_eq(n + 1, d1i) -
                            a * inner.riccati_eq(n + 1, d3i)) * at.inv_den;
  const V<W> c_o_delta = c_o - slope_d1o;
  h_out.v = at.h;
  delta_out.v = at.delta;
  for (int k = 0; k < K; ++k) {
    const V<W> common = c_h * h.d[k] + c_mh * m_h.d[k] + c_md * m_d.d[k] + c_q * q.d[k] +
                        c_i * inner.z.d[k];
    h_out.d[k] = common + c_o * outer.z.d[k];
    if (want_delta) delta_out.d[k] = common + c_o_delta * outer.z.d[k];
  }
}

// G1 across an interface for every lane: direct_contrast, or split_contrast where `near`
// (d1_difference's E and D1(z_in) are only formed then).
template <class T, int W, class Split_>
INLINE T contrast(Split mode, const bool (&near)[W], const T& h, const T& m_h, const T& m_d,
                  const Lifted<T, W>& out_side, int n, Split_&& split) {
  if (mode == Split::kNone) return direct_contrast(h, m_h, m_d, out_side, n);
  if (mode == Split::kAll) return split();
  return select(near, split(), direct_contrast(h, m_h, m_d, out_side, n));
}

constexpr int kLanes = 8;  // particles per lane group in the forward kernels

template <int W>
struct Workspace {
  std::vector<V<W>> buf;
  std::vector<V<2 * W>> pair_buf;
  int n = 0;
  explicit Workspace(int n_max)
      : buf(size_t(21) * n_max), pair_buf(2 * W <= kLanes ? size_t(4) * n_max : 0), n(n_max) {}
  Riccati<W> slot(int k) {  // k = 0..4
    V<W>* p = buf.data() + size_t(k) * 4 * n;
    return Riccati<W>{p, p + n, p + 2 * n, p + 3 * n, V<W>()};
  }
  V<W>* differences() { return buf.data() + size_t(20) * n; }  // n values
  Riccati<2 * W> pair_slot() {
    V<2 * W>* p = pair_buf.data();
    return Riccati<2 * W>{p, p + n, p + 2 * n, p + 3 * n, V<2 * W>()};
  }
};

// Lanes [offset, offset + W) of a.
template <int W, int W2>
INLINE V<W> half(const V<W2>& a, int offset) {
  V<W> c;
  LANES {
    c.re[j] = a.re[offset + j];
    c.im[j] = a.im[offset + j];
  }
  return c;
}

// The sequences at two arguments. Narrow lane groups (the Jacobian kernels' 4) run both in
// one riccati call of twice the width: the recurrences are chains of dependent divisions,
// and one chain per vector register leaves the divider waiting.
template <int W>
void riccati_two(const V<W>& z_a, bool need_d3_a, const V<W>& z_b, bool need_d3_b, int n_max,
                 Workspace<W>& ws, Riccati<W>& a, Riccati<W>& b) {
  if constexpr (2 * W <= kLanes) {
    V<2 * W> z;
    LANES {
      z.re[j] = z_a.re[j];
      z.im[j] = z_a.im[j];
      z.re[W + j] = z_b.re[j];
      z.im[W + j] = z_b.im[j];
    }
    Riccati<2 * W> both = ws.pair_slot();
    riccati(z, n_max, need_d3_a || need_d3_b, both);
    for (int i = 0; i < n_max; ++i) {
      a.d1[i] = half<W>(both.d1[i], 0);
      b.d1[i] = half<W>(both.d1[i], W);
      a.d3[i] = half<W>(both.d3[i], 0);
      b.d3[i] = half<W>(both.d3[i], W);
      a.psi_ratio[i] = half<W>(both.psi_ratio[i], 0);
      b.psi_ratio[i] = half<W>(both.psi_ratio[i], W);
      a.zeta_ratio[i] = half<W>(both.zeta_ratio[i], 0);
      b.zeta_ratio[i] = half<W>(both.zeta_ratio[i], W);
    }
    a.u = half<W>(both.u, 0);
    b.u = half<W>(both.u, W);
  } else {
    riccati(z_a, n_max, need_d3_a, a);
    riccati(z_b, n_max, need_d3_b, b);
  }
}

// Inputs of W particles (lanes), layer l of lane j at [j * L + l].
template <int W>
struct Lanes {
  const double* x;
  const cplx* m;
  int L;
  V<W> x_at(int l) const {
    V<W> v;
    LANES { v.re[j] = x[j * L + l]; v.im[j] = 0.0; }
    return v;
  }
  V<W> m_at(int l) const {
    V<W> v;
    LANES { set_lane(v, j, m[j * L + l]); }
    return v;
  }
};

// Numbers of type T for the inputs: plain values, or duals seeded with d/dx_l (tangent l)
// and d/dm_l (tangent L + l).
template <int W>
inline V<W> input(const V<W>& v, int, V<W>*) {
  return v;
}
template <int W, int K>
inline D<W, K> input(const V<W>& v, int tangent, D<W, K>*) {
  D<W, K> c;
  c.v = v;
  for (int k = 0; k < K; ++k) c.d[k] = splat<W>(k == tangent ? 1.0 : 0.0, 0.0);
  return c;
}

// h^a_n, h^b_n at the outer surface and the host's sequences: the layer recurrence.
template <class T, int W>
struct Layered {
  std::vector<T> ha, hb;        // H^a, H^b at the outer surface of the layer reached so far
  std::vector<T> da, db;        // their deviations from D1(m_l x_l) there
  std::vector<T> num_a, num_b;  // h - D1(x) of a_n (h = H^a / m_L) and b_n (h = m_L H^b),
  bool split_host;              // filled when the outer surface is nearly matched somewhere
  T ratio1, m_out;
  bool lossless[W];
};

// Fills out; host and x_host receive the host argument's sequences (workspace slot 3) and
// x_L as a number of type T.
template <class T, int W>
void layered(const Lanes<W>& in, int n_max, Workspace<W>& ws, Layered<T, W>& out,
             Riccati<W>& host, T& x_host) {
  const int L = in.L;
  T* tag = nullptr;
  auto x_at = [&](int l) { return input(in.x_at(l), l, tag); };
  auto m_at = [&](int l) { return input(in.m_at(l), L + l, tag); };
  const T zero = input(splat<W>(0, 0), -1, tag), one = input(splat<W>(1, 0), -1, tag);
  // `below` holds the sequences at m_{l-1} x_{l-1}, the inner side of the next interface:
  // the core's, then each layer's outer ones (two slots, swapped).
  Riccati<W> below = ws.slot(0), outer = ws.slot(1), inner = ws.slot(2), spare = ws.slot(4);
  host = ws.slot(3);
  V<W>* e = ws.differences();
  const T minus_i = times_i(input(splat<W>(-1, 0), -1, tag));
  // Interface l at x_l, between m_l and m_{l+1} (the host, 1, for l = L - 1): which lanes
  // take the split form of G1 (near), and whether any does (mode).
  std::vector<std::array<bool, W>> near(L);
  std::vector<Split> modes(L);
  bool any_split = false;
  for (int l = 0; l < L; ++l) {
    bool lanes[W];
    near_matched(in.m_at(l), l + 1 < L ? in.m_at(l + 1) : splat<W>(1, 0), lanes);
    std::copy(lanes, lanes + W, near[l].begin());
    modes[l] = split_lanes(lanes);
    any_split = any_split || modes[l] != Split::kNone;
  }
  out.ha.resize(n_max);
  out.hb.resize(n_max);
  // The deviations and the host's split numerators exist only where some interface needs
  // them (else through() leaves the deviations untouched, and they are never read).
  const size_t split_size = any_split ? n_max : 0;
  for (auto* v : {&out.da, &out.db, &out.num_a, &out.num_b}) v->resize(split_size);
  T z_below = m_at(0) * x_at(0);
  x_host = x_at(L - 1);
  riccati_two(value(z_below), false, value(x_host), true, n_max, ws, below, host);
  {
    Lifted<T, W> lb(below, z_below);
    for (int n = 0; n < n_max; ++n) {
      out.ha[n] = out.hb[n] = lb.d1(n);
      if (any_split) out.da[n] = out.db[n] = zero;
    }
  }
  for (int l = 1; l < L; ++l) {
    T m_in = m_at(l - 1), m_out = m_at(l), x_o = x_at(l), x_i = x_at(l - 1);
    T z_o = m_out * x_o, z_i = m_out * x_i;
    riccati_two(value(z_o), true, value(z_i), true, n_max, ws, outer, inner);
    // The interface at x_{l-1}: the split form of G1 where it is nearly matched.
    const Split mode = modes[l - 1];
    const bool(&lanes)[W] = *reinterpret_cast<const bool(*)[W]>(near[l - 1].data());
    const bool want_delta = modes[l] != Split::kNone;
    const T dz = (m_out - m_in) * x_i;
    if (mode != Split::kNone) d1_difference(value(z_below), value(dz), below, inner, n_max, e);
    Lifted<T, W> lo(outer, z_o), li(inner, z_i), lb(below, z_below);
    T phase = m_out * (x_o - x_i);
    T q = exp(2.0 * times_i(phase)) * (li.u() / lo.u()) *
          ((inv(z_o) + minus_i) / (inv(z_i) + minus_i));
    for (int n = 0; n < n_max; ++n) {
      if (n > 0) {
        // q_n = q_{n-1} (psi_n/psi_{n-1})(z_i) (zeta_n/zeta_{n-1})(z_o) / (the same with
        // z_i and z_o swapped); each ratio's log-derivative is a difference of D's.
        const V<W> r = (inner.psi_ratio[n] * outer.zeta_ratio[n]) *
                       inv(outer.psi_ratio[n] * inner.zeta_ratio[n]);
        const V<W> g_i = (inner.d1[n] - inner.d1[n - 1]) - (inner.d3[n] - inner.d3[n - 1]);
        const V<W> g_o = (outer.d3[n] - outer.d3[n - 1]) - (outer.d1[n] - outer.d1[n - 1]);
        q = times_ratio(q, r, g_i, z_i, g_o, z_o);
      }
      auto split = [&](const T& delta, const T& m_h, const T& m_d) {
        return [&, m_h, m_d] {
          return split_contrast(delta, lb.d1(n),
                                lift_difference(e[n], below.d1[n], inner.d1[n], z_below, dz,
                                                n + 1), m_h, m_d);
        };
      };
      T h_a, delta_a, h_b, delta_b;
      if (mode == Split::kNone) {
        through_direct(out.ha[n], m_out, m_in, lo, li, n, q, h_a, delta_a, want_delta);
        through_direct(out.hb[n], m_in, m_out, lo, li, n, q, h_b, delta_b, want_delta);
      } else {
        const T g1_a = contrast(mode, lanes, out.ha[n], m_out, m_in, li, n,
                                split(out.da[n], m_out, m_in));
        const T g1_b = contrast(mode, lanes, out.hb[n], m_in, m_out, li, n,
                                split(out.db[n], m_in, m_out));
        through(out.ha[n], g1_a, m_out, m_in, lo, li, n, q, h_a, delta_a, want_delta);
        through(out.hb[n], g1_b, m_in, m_out, lo, li, n, q, h_b, delta_b, want_delta);
      }
      out.ha[n] = h_a;
      out.hb[n] = h_b;
      if (any_split) {
        out.da[n] = delta_a;
        out.db[n] = delta_b;
      }
    }
    std::swap(below, outer);  // this layer's outer sequences face the next interface
    std::swap(outer, spare);
    z_below = z_o;
  }
  // The outer surface, between m_L and the host (index 1).
  const T m_last = m_at(L - 1), dz = (one - m_last) * x_host;
  const Split mode = modes[L - 1];
  const bool(&lanes)[W] = *reinterpret_cast<const bool(*)[W]>(near[L - 1].data());
  Lifted<T, W> lh(host, x_host), lb(below, z_below);
  out.split_host = mode != Split::kNone;  // else forward / jacobian take h - D1(x)
  if (out.split_host) d1_difference(value(z_below), value(dz), below, host, n_max, e);
  for (int n = 0; out.split_host && n < n_max; ++n) {
    auto split = [&](const T& delta, const T& m_h, const T& m_d) {
      return [&, m_h, m_d] {
        return split_contrast(delta, lb.d1(n),
                              lift_difference(e[n], below.d1[n], host.d1[n], z_below, dz,
                                              n + 1), m_h, m_d);
      };
    };
    out.num_a[n] = contrast(mode, lanes, out.ha[n], one, m_last, lh, n,
                            split(out.da[n], one, m_last)) / m_last;
    out.num_b[n] = contrast(mode, lanes, out.hb[n], m_last, one, lh, n,
                            split(out.db[n], m_last, one));
  }
  out.ratio1 = (times_i(lh.u()) * exp(-2.0 * times_i(x_host))) / (inv(x_host) + minus_i);
  out.m_out = m_last;
  LANES {
    out.lossless[j] = true;
    for (int l = 0; l < L; ++l) out.lossless[j] = out.lossless[j] && in.m[j * L + l].imag() == 0.0;
  }
}

struct Outputs {
  cplx *a, *b;
  double *abs_a, *abs_b;
  cplx *da, *db;          // (..., N, 2L) or null
  double *dabs_a, *dabs_b;  // (..., N, 3L) or null
};

template <int W>
INLINE double re_conj(const V<W>& u, const V<W>& v, int j) {  // Re(u conj(v)) in lane j
  return u.re[j] * v.re[j] + u.im[j] * v.im[j];
}

// The seven sums over orders behind every efficiency (the layout of
// jaxmie._native.efficiency_sums) for W particles, accumulated order by order:
// 2(2n+1)(|a|^2 + |b|^2), 2(2n+1)(absorbed), Re, Im of sum (2n+1)(-1)^n (a - b), Re, Im of
// sum (2n+1)(a + b), and the asymmetry sum.
template <int W>
struct OrderSums {
  double sums[7][W] = {};
  V<W> prev_a, prev_b;  // order k - 1's coefficients, for the asymmetry sum's a_{k-1} a_k*

  // Order k (from 0): its coefficients and absorbed parts (zero for lossless particles).
  INLINE void add(int k, const V<W>& a, const V<W>& b, const double* absorbed_a,
                  const double* absorbed_b) {
    const double n = k + 1, two_n_1 = 2 * n + 1, sign = (k % 2 == 0) ? -1.0 : 1.0;
    const double alpha_prev = (n - 1) * (n + 1) / n, beta = two_n_1 / (n * (n + 1));
    LANES {
      sums[0][j] += 2 * two_n_1 * (re_conj(a, a, j) + re_conj(b, b, j));
      sums[1][j] += 2 * two_n_1 * (absorbed_a[j] + absorbed_b[j]);
      sums[2][j] += two_n_1 * sign * (a.re[j] - b.re[j]);
      sums[3][j] += two_n_1 * sign * (a.im[j] - b.im[j]);
      sums[4][j] += two_n_1 * (a.re[j] + b.re[j]);
      sums[5][j] += two_n_1 * (a.im[j] + b.im[j]);
      double g = beta * re_conj(a, b, j);
      if (k > 0) g += alpha_prev * (re_conj(prev_a, a, j) + re_conj(prev_b, b, j));
      sums[6][j] += g;
    }
    prev_a = a;
    prev_b = b;
  }

  void write(double* out, int64_t first, int valid) const {
    for (int j = 0; j < valid; ++j)
      for (int i = 0; i < 7; ++i) out[(first + j) * 7 + i] = sums[i][j];
  }
};

// The coefficients of W particles, order by order: sink(n, a, b, absorbed_a, absorbed_b)
// receives a_n, b_n and their absorbed parts (double[W], zero for lossless particles).
template <int W, class Sink>
void forward(const Lanes<W>& in, int n_max, Workspace<W>& ws, Sink&& sink) {
  Layered<V<W>, W> s;
  Riccati<W> host;
  V<W> x_host;
  layered(in, n_max, ws, s, host, x_host);
  V<W> ratio = s.ratio1;
  for (int n = 0; n < n_max; ++n) {
    if (n > 0) ratio = ratio * (host.psi_ratio[n] * inv(host.zeta_ratio[n]));
    const V<W>&d1 = host.d1[n], &d3 = host.d3[n];
    V<W> h_a = s.ha[n] / s.m_out, h_b = s.m_out * s.hb[n];
    const V<W> inv_ea = inv(h_a - d3), inv_eb = inv(h_b - d3), w = d3 - d1;
    const V<W> num_a = s.split_host ? s.num_a[n] : h_a - d1;
    const V<W> num_b = s.split_host ? s.num_b[n] : h_b - d1;
    const V<W> an = (ratio * num_a) * inv_ea, bn = (ratio * num_b) * inv_eb;
    // 1/|zeta_n(x)|^2 = |psi_n/zeta_n| |D3_n - D1_n| (Wronskian), then the absorbed part
    // -Im(h) / (|zeta_n|^2 |h - D3_n|^2), exactly zero for lossless particles.
    double abs_a[W], abs_b[W];
    LANES {
      const double inv_zeta_sq =
          std::sqrt(ratio.re[j] * ratio.re[j] + ratio.im[j] * ratio.im[j]) *
          std::sqrt(w.re[j] * w.re[j] + w.im[j] * w.im[j]);
      const double inv_ea_sq = inv_ea.re[j] * inv_ea.re[j] + inv_ea.im[j] * inv_ea.im[j];
      const double inv_eb_sq = inv_eb.re[j] * inv_eb.re[j] + inv_eb.im[j] * inv_eb.im[j];
      abs_a[j] = s.lossless[j] ? 0.0 : -h_a.im[j] * inv_zeta_sq * inv_ea_sq;
      abs_b[j] = s.lossless[j] ? 0.0 : -h_b.im[j] * inv_zeta_sq * inv_eb_sq;
    }
    sink(n, an, bn, abs_a, abs_b);
  }
}

// One coefficient c = ratio (h - D1) / (h - D3) (a_n with h = H^a/m_L, b_n with
// h = m_L H^b) and its absorbed part -Im(h) |ratio| |D3 - D1| / |h - D3|^2, with derivatives.
// h carries K complex tangents (d/dx_l, then d/dm_l); the host's ratio, D1, D3 depend on
// x_L alone, so they carry one derivative each (host_*), added to tangent kx = L - 1.
template <int W, int K>
struct CoefficientJacobian {
  V<W> value, tangent[K];           // c and dc/dx_l, dc/dm_l
  double absorbed[W], grad[3 * K / 2][W];  // along x_l, Re m_l, Im m_l

  // split: num = h - D1 with its tangents in layered's split form (which keeps them for
  // m -> 1, where h ~ D1 and dh ~ dD1), or null for the direct h - D1.
  CoefficientJacobian(const V<W>& h, const V<W> (&dh)[K], const D<W, K>* split,
                      const V<W>& ratio, const V<W>& d1, const V<W>& d3,
                      const V<W>& host_ratio, const V<W>& host_d1, const V<W>& host_d3) {
    constexpr int L = K / 2, kx = L - 1;
    const V<W> num = split ? split->v : h - d1, den = h - d3, inv_den = inv(den);
    const V<W> quotient = num * inv_den, scale = ratio * inv_den;
    value = ratio * quotient;
    // dc = ratio (dnum - quotient dden) / den + quotient dratio, with dnum and dden = dh - dD3
    // formed first.
    for (int k = 0; k < K; ++k) {
      const V<W> dnum = split ? split->d[k] : k == kx ? dh[k] - host_d1 : dh[k];
      const V<W> dden = k == kx ? dh[k] - host_d3 : dh[k];
      tangent[k] = (dnum - quotient * dden) * scale;
    }
    tangent[kx] = tangent[kx] + quotient * host_ratio;

    const V<W> w = d3 - d1, dw = host_d3 - host_d1;
    double abs_r[W], abs_w[W], izs[W], inv_e2[W], d_izs[W];
    LANES {
      abs_r[j] = std::sqrt(ratio.re[j] * ratio.re[j] + ratio.im[j] * ratio.im[j]);
      abs_w[j] = std::sqrt(w.re[j] * w.re[j] + w.im[j] * w.im[j]);
      izs[j] = abs_r[j] * abs_w[j];
      inv_e2[j] = inv_den.re[j] * inv_den.re[j] + inv_den.im[j] * inv_den.im[j];
      absorbed[j] = -h.im[j] * izs[j] * inv_e2[j];
      // |.| has a zero derivative at 0, as _layered._safe_abs.
      const double d_abs_r = abs_r[j] > 0 ? (ratio.re[j] * host_ratio.re[j] +
                                             ratio.im[j] * host_ratio.im[j]) / abs_r[j] : 0.0;
      const double d_abs_w = abs_w[j] > 0 ? (w.re[j] * dw.re[j] + w.im[j] * dw.im[j]) /
                                             abs_w[j] : 0.0;
      d_izs[j] = d_abs_r * abs_w[j] + abs_r[j] * d_abs_w;
    }
    for (int dir = 0; dir < 3 * L; ++dir) {
      // A real direction's tangent is dh[k] (x_l, Re m_l) or i dh[k] (Im m_l).
      const int k = dir < 2 * L ? dir : dir - L;
      const bool along_imag = dir >= 2 * L, host = dir == kx;
      LANES {
        const double t_re = along_imag ? -dh[k].im[j] : dh[k].re[j];
        const double t_im = along_imag ? dh[k].re[j] : dh[k].im[j];
        const double de_re = t_re - (host ? host_d3.re[j] : 0.0);
        const double de_im = t_im - (host ? host_d3.im[j] : 0.0);
        const double d_e2 = 2.0 * (den.re[j] * de_re + den.im[j] * de_im);
        const double d_izs_here = host ? d_izs[j] : 0.0;
        grad[dir][j] = (-t_im * izs[j] - h.im[j] * d_izs_here) * inv_e2[j] -
                       absorbed[j] * d_e2 * inv_e2[j];
      }
    }
  }
};

// The coefficients of W particles with their derivatives, order by order: sink(n, a, b,
// lossless) receives CoefficientJacobian's of a_n and b_n (n from 0).
template <int W, int K, class Sink>
void jacobian(const Lanes<W>& in, int n_max, Workspace<W>& ws, Sink&& sink) {
  constexpr int L = K / 2, kx = L - 1, km = 2 * L - 1;
  Layered<D<W, K>, W> s;
  Riccati<W> host;
  D<W, K> x_host;
  layered(in, n_max, ws, s, host, x_host);
  // The host's sequences: values and d/dx_L (the argument is x_L itself, dz/dx_L = 1).
  const Lifted<V<W>, W> lifted_host(host, x_host.v);
  V<W> ratio = s.ratio1.v, d_ratio = s.ratio1.d[kx];
  const V<W> m = s.m_out.v, inv_m = inv(m);
  for (int n = 0; n < n_max; ++n) {
    const V<W>&d1 = host.d1[n], &d3 = host.d3[n];
    if (n > 0) {
      const V<W> q = host.psi_ratio[n] * inv(host.zeta_ratio[n]);
      const V<W> dq = q * ((d1 - host.d1[n - 1]) - (d3 - host.d3[n - 1]));
      d_ratio = d_ratio * q + ratio * dq;
      ratio = ratio * q;
    }
    const V<W> dd1 = lifted_host.riccati_eq(n + 1, d1), dd3 = lifted_host.riccati_eq(n + 1, d3);
    // h_a = H^a / m_L and h_b = m_L H^b, with m_L's tangent (1 along m_L) added.
    const V<W> h_a = s.ha[n].v / m, h_b = m * s.hb[n].v;
    V<W> dh_a[K], dh_b[K];
    for (int k = 0; k < K; ++k) {
      dh_a[k] = s.ha[n].d[k] * inv_m;
      dh_b[k] = m * s.hb[n].d[k];
    }
    dh_a[km] = (s.ha[n].d[km] - h_a) * inv_m;  // subtract first: they nearly cancel for m -> 1
    dh_b[km] = dh_b[km] + s.hb[n].v;
    const D<W, K>*num_a = s.split_host ? &s.num_a[n] : nullptr,
                 *num_b = s.split_host ? &s.num_b[n] : nullptr;
    const CoefficientJacobian<W, K> a(h_a, dh_a, num_a, ratio, d1, d3, d_ratio, dd1, dd3);
    const CoefficientJacobian<W, K> b(h_b, dh_b, num_b, ratio, d1, d3, d_ratio, dd1, dd3);
    sink(n, a, b, s.lossless);
  }
}

// Items [lo, hi) in groups of W lanes: kernel(in, ws, first item, valid lanes). The remainder
// makes one more group whose unused lanes repeat its last item, so that every item goes
// through the same W-lane code and its result does not depend on its place in the batch
// (a single-lane build of the kernels rounds differently: GCC fuses its complex products
// into FMAs).
template <int W, class Kernel>
void run_items(const double* x, const cplx* m, int L, int n_max, int64_t lo, int64_t hi,
               Kernel&& kernel) {
  Workspace<W> ws(n_max);
  int64_t i = lo;
  for (; i + W <= hi; i += W) kernel(Lanes<W>{x + i * L, m + i * L, L}, ws, i, W);
  if (i == hi) return;
  const int valid = int(hi - i);
  std::vector<double> x_rest(static_cast<size_t>(W) * L);
  std::vector<cplx> m_rest(x_rest.size());
  for (int j = 0; j < W; ++j) {
    const int64_t item = i + std::min(j, valid - 1);
    std::copy(x + item * L, x + (item + 1) * L, x_rest.begin() + j * L);
    std::copy(m + item * L, m + (item + 1) * L, m_rest.begin() + j * L);
  }
  kernel(Lanes<W>{x_rest.data(), m_rest.data(), L}, ws, i, valid);
}

// Runs body over [0, items) in chunks, on this thread and on up to threads - 1 tasks of the
// XLA CPU thread pool. Chunks are claimed from a shared counter, so the caller waits only
// for chunks that a running thread has claimed: a pool busy with other work (or with
// another call of this kernel, waiting the same way) cannot deadlock it.
template <class Body>
void parallel(ffi::ThreadPool& pool, int64_t items, int64_t cost_per_item, Body body) {
  int64_t threads = std::max<int64_t>(1, pool.num_threads());
  int64_t tasks = std::min<int64_t>(threads, std::max<int64_t>(1, items * cost_per_item / 20000));
  if (tasks <= 1) {
    body(0, items);
    return;
  }
  struct State {
    std::atomic<int64_t> next{0}, finished{0};
    int64_t chunks, chunk;
  };
  auto state = std::make_shared<State>();
  state->chunks = 4 * tasks;
  state->chunk = (items + state->chunks - 1) / state->chunks;
  auto work = [state, items, &body] {
    for (int64_t c; (c = state->next.fetch_add(1)) < state->chunks;) {
      body(std::min(items, c * state->chunk), std::min(items, (c + 1) * state->chunk));
      state->finished.fetch_add(1, std::memory_order_release);
    }
  };
  // A task that starts after every chunk is claimed returns without touching body.
  for (int64_t t = 1; t < tasks; ++t) pool.Schedule(std::function<void()>(work));
  work();
  while (state->finished.load(std::memory_order_acquire) < state->chunks)
    std::this_thread::yield();
}

ffi::Error SeriesImpl(ffi::ThreadPool pool, ffi::AnyBuffer x, ffi::AnyBuffer m,
                      ffi::Result<ffi::AnyBuffer> a, ffi::Result<ffi::AnyBuffer> b,
                      ffi::Result<ffi::AnyBuffer> abs_a, ffi::Result<ffi::AnyBuffer> abs_b) {
  auto dims = x.dimensions();
  const int L = int(dims.back());
  const int n_max = int(a->dimensions().back());
  const int64_t items = int64_t(x.element_count()) / L;
  const double* xp = x.typed_data<double>();
  const cplx* mp = reinterpret_cast<const cplx*>(m.untyped_data());
  Outputs o{reinterpret_cast<cplx*>(a->untyped_data()), reinterpret_cast<cplx*>(b->untyped_data()),
            abs_a->typed_data<double>(), abs_b->typed_data<double>(), nullptr, nullptr,
            nullptr, nullptr};
  parallel(pool, items, int64_t(n_max) * L, [&](int64_t lo, int64_t hi) {
    run_items<kLanes>(xp, mp, L, n_max, lo, hi, [&](const auto& in, auto& ws, int64_t i,
                                                    int valid) {
      forward(in, n_max, ws, [&](int n, const auto& an, const auto& bn, const double* abs_a,
                                 const double* abs_b) {
        for (int j = 0; j < valid; ++j) {
          const size_t at = size_t(i + j) * n_max + n;
          o.a[at] = lane(an, j);
          o.b[at] = lane(bn, j);
          o.abs_a[at] = abs_a[j];
          o.abs_b[at] = abs_b[j];
        }
      });
    });
  });
  return ffi::Error::Success();
}

// The series and its order sums in one go, without writing the coefficients out:
// x (..., L) f64, m (..., L) c128 -> sums (..., 7) f64 (n_max from the attribute).
ffi::Error EfficiencySumsImpl(ffi::ThreadPool pool, ffi::AnyBuffer x, ffi::AnyBuffer m,
                              ffi::Result<ffi::AnyBuffer> sums, int64_t n_max_attr) {
  const int L = int(x.dimensions().back());
  const int n_max = int(n_max_attr);
  const int64_t items = int64_t(x.element_count()) / L;
  const double* xp = x.typed_data<double>();
  const cplx* mp = reinterpret_cast<const cplx*>(m.untyped_data());
  double* out = sums->typed_data<double>();
  parallel(pool, items, int64_t(n_max) * L, [&](int64_t lo, int64_t hi) {
    run_items<kLanes>(xp, mp, L, n_max, lo, hi, [&](const auto& in, auto& ws, int64_t i,
                                                    int valid) {
      OrderSums<kLanes> sums;
      forward(in, n_max, ws, [&](int n, const auto& an, const auto& bn, const double* abs_a,
                                 const double* abs_b) { sums.add(n, an, bn, abs_a, abs_b); });
      sums.write(out, i, valid);
    });
  });
  return ffi::Error::Success();
}

// Writes the coefficients and their derivatives of lanes 0..valid-1 at item `first`.
template <int W, int K>
struct SeriesSink {
  const Outputs& o;
  int n_max;
  int64_t first;
  int valid;
  void operator()(int n, const CoefficientJacobian<W, K>& a, const CoefficientJacobian<W, K>& b,
                  const bool* lossless) const {
    constexpr int R = 3 * K / 2;
    for (int j = 0; j < valid; ++j) {
      const size_t at = size_t(first + j) * n_max + n;
      o.a[at] = lane(a.value, j);
      o.b[at] = lane(b.value, j);
      for (int k = 0; k < K; ++k) {
        o.da[at * K + k] = lane(a.tangent[k], j);
        o.db[at * K + k] = lane(b.tangent[k], j);
      }
      o.abs_a[at] = lossless[j] ? 0.0 : a.absorbed[j];
      o.abs_b[at] = lossless[j] ? 0.0 : b.absorbed[j];
      for (int r = 0; r < R; ++r) {
        o.dabs_a[at * R + r] = a.grad[r][j];
        o.dabs_b[at * R + r] = b.grad[r][j];
      }
    }
  }
};

// Accumulates OrderSums and the sums' derivatives along the 3L real directions (x_l,
// Re m_l, Im m_l), order by order.
template <int W, int K>
struct SumsSink {
  static constexpr int R = 3 * K / 2;
  OrderSums<W> values;
  double grad[7][R][W] = {};
  V<W> prev_ta[R], prev_tb[R];  // order k - 1's real-direction tangents

  // f t for a real direction: the tangent itself (x_l, Re m_l) or i times it (Im m_l).
  static V<W> along(const CoefficientJacobian<W, K>& c, int dir) {
    constexpr int L = K / 2;
    return dir < 2 * L ? c.tangent[dir] : times_i(c.tangent[dir - L]);
  }

  void operator()(int k, const CoefficientJacobian<W, K>& a, const CoefficientJacobian<W, K>& b,
                  const bool* lossless) {
    const double n = k + 1, two_n_1 = 2 * n + 1, sign = (k % 2 == 0) ? -1.0 : 1.0;
    const double alpha_prev = (n - 1) * (n + 1) / n, beta = two_n_1 / (n * (n + 1));
    const V<W>&av = a.value, &bv = b.value, &prev_a = values.prev_a, &prev_b = values.prev_b;
    V<W> ta[R], tb[R];
    for (int r = 0; r < R; ++r) {
      ta[r] = along(a, r);
      tb[r] = along(b, r);
    }
    for (int r = 0; r < R; ++r) {
      LANES {
        grad[0][r][j] += 4 * two_n_1 * (re_conj(av, ta[r], j) + re_conj(bv, tb[r], j));
        grad[1][r][j] += 2 * two_n_1 * (a.grad[r][j] + b.grad[r][j]);
        grad[2][r][j] += two_n_1 * sign * (ta[r].re[j] - tb[r].re[j]);
        grad[3][r][j] += two_n_1 * sign * (ta[r].im[j] - tb[r].im[j]);
        grad[4][r][j] += two_n_1 * (ta[r].re[j] + tb[r].re[j]);
        grad[5][r][j] += two_n_1 * (ta[r].im[j] + tb[r].im[j]);
        double dg = beta * (re_conj(ta[r], bv, j) + re_conj(av, tb[r], j));
        if (k > 0)
          dg += alpha_prev * (re_conj(prev_ta[r], av, j) + re_conj(prev_a, ta[r], j) +
                              re_conj(prev_tb[r], bv, j) + re_conj(prev_b, tb[r], j));
        grad[6][r][j] += dg;
      }
      prev_ta[r] = ta[r];
      prev_tb[r] = tb[r];
    }
    double absorbed_a[W], absorbed_b[W];
    LANES {
      absorbed_a[j] = lossless[j] ? 0.0 : a.absorbed[j];
      absorbed_b[j] = lossless[j] ? 0.0 : b.absorbed[j];
    }
    values.add(k, av, bv, absorbed_a, absorbed_b);  // after the tangents: it moves prev_a
  }

  void write(double* sums_out, double* grad_out, int64_t first, int valid) const {
    values.write(sums_out, first, valid);
    for (int j = 0; j < valid; ++j)
      for (int i = 0; i < 7; ++i)
        for (int r = 0; r < R; ++r) grad_out[((first + j) * 7 + i) * R + r] = grad[i][r][j];
  }
};

constexpr int kJacobianLanes = 4;

// Calls f(std::integral_constant<int, 2L>()) for L = 1..4; false for more layers.
template <class F>
bool with_tangent_count(int L, F&& f) {
  switch (L) {
    case 1: f(std::integral_constant<int, 2>()); return true;
    case 2: f(std::integral_constant<int, 4>()); return true;
    case 3: f(std::integral_constant<int, 6>()); return true;
    case 4: f(std::integral_constant<int, 8>()); return true;
    default: return false;
  }
}

const ffi::Error kTooManyLayers(ffi::ErrorCode::kInvalidArgument,
                                "jaxmie native Jacobian: at most 4 layers");

ffi::Error SeriesJacobianImpl(ffi::ThreadPool pool, ffi::AnyBuffer x, ffi::AnyBuffer m,
                              ffi::Result<ffi::AnyBuffer> a, ffi::Result<ffi::AnyBuffer> b,
                              ffi::Result<ffi::AnyBuffer> abs_a,
                              ffi::Result<ffi::AnyBuffer> abs_b, ffi::Result<ffi::AnyBuffer> da,
                              ffi::Result<ffi::AnyBuffer> db,
                              ffi::Result<ffi::AnyBuffer> dabs_a,
                              ffi::Result<ffi::AnyBuffer> dabs_b) {
  auto dims = x.dimensions();
  const int L = int(dims.back());
  const int n_max = int(a->dimensions().back());
  const int64_t items = int64_t(x.element_count()) / L;
  const double* xp = x.typed_data<double>();
  const cplx* mp = reinterpret_cast<const cplx*>(m.untyped_data());
  Outputs o{reinterpret_cast<cplx*>(a->untyped_data()),
            reinterpret_cast<cplx*>(b->untyped_data()),
            abs_a->typed_data<double>(),
            abs_b->typed_data<double>(),
            reinterpret_cast<cplx*>(da->untyped_data()),
            reinterpret_cast<cplx*>(db->untyped_data()),
            dabs_a->typed_data<double>(),
            dabs_b->typed_data<double>()};
  const bool supported = with_tangent_count(L, [&](auto tangents) {
    constexpr int K = decltype(tangents)::value;
    parallel(pool, items, int64_t(n_max) * L * (K + 1), [&](int64_t lo, int64_t hi) {
      run_items<kJacobianLanes>(xp, mp, L, n_max, lo, hi, [&](const auto& in, auto& ws,
                                                              int64_t i, int valid) {
        constexpr int W = kJacobianLanes;
        jacobian<W, K>(in, n_max, ws, SeriesSink<W, K>{o, n_max, i, valid});
      });
    });
  });
  if (!supported) return kTooManyLayers;
  return ffi::Error::Success();
}

// EfficiencySumsImpl with derivatives: x (..., L), m (..., L) -> sums (..., 7) f64 and
// their derivatives (..., 7, 3L) f64 along x_l, Re m_l, Im m_l.
ffi::Error EfficiencySumsJacobianImpl(ffi::ThreadPool pool, ffi::AnyBuffer x, ffi::AnyBuffer m,
                                      ffi::Result<ffi::AnyBuffer> sums,
                                      ffi::Result<ffi::AnyBuffer> grad, int64_t n_max_attr) {
  const int L = int(x.dimensions().back());
  const int n_max = int(n_max_attr);
  const int64_t items = int64_t(x.element_count()) / L;
  const double* xp = x.typed_data<double>();
  const cplx* mp = reinterpret_cast<const cplx*>(m.untyped_data());
  double* sums_out = sums->typed_data<double>();
  double* grad_out = grad->typed_data<double>();
  const bool supported = with_tangent_count(L, [&](auto tangents) {
    constexpr int K = decltype(tangents)::value;
    parallel(pool, items, int64_t(n_max) * L * (K + 1), [&](int64_t lo, int64_t hi) {
      run_items<kJacobianLanes>(xp, mp, L, n_max, lo, hi, [&](const auto& in, auto& ws,
                                                              int64_t i, int valid) {
        constexpr int W = kJacobianLanes;
        SumsSink<W, K> sink;
        jacobian<W, K>(in, n_max, ws, sink);
        sink.write(sums_out, grad_out, i, valid);
      });
    });
  });
  return supported ? ffi::Error::Success() : kTooManyLayers;
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxmieSeries, SeriesImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxmieSeriesJacobian, SeriesJacobianImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxmieEfficiencySums, EfficiencySumsImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Attr<int64_t>("n_max"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxmieEfficiencySumsJacobian, EfficiencySumsJacobianImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Attr<int64_t>("n_max"));
