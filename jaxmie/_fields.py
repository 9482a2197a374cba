r"""Near fields E and H inside and around layered spheres, differentiable in every input.

A plane wave of unit amplitude, polarised along x (or y) and travelling along +z, with time
dependence exp(-i omega t), falls on a sphere centred at the origin (Bohren & Huffman's
setup, the one of scattnlay's fieldnlay). In the host medium the incident fields are

.. math::
    \mathbf{E}_i = e^{ikz}\,\hat{\mathbf{x}},\qquad \mathbf{H}_i = e^{ikz}\,\hat{\mathbf{y}},

with k = 2 pi n_env / wavelength: E is relative to the incident electric amplitude E_0, H to
the incident magnetic amplitude H_0 = n_env E_0 / Z_0 (multiply H by n_env / Z_0 for SI
units with E_0 = 1 V/m; scattnlay reports H in units of E_0 / Z_0 with n_env = 1).

In layer l (relative index m_l, rho = m_l k r) the fields are the series of Yang (2003)

.. math::
    \mathbf{E} = \sum_n E_n\big[c_n \mathbf{M}^{(1)}_{o1n} - i d_n \mathbf{N}^{(1)}_{e1n}
        + i a_n \mathbf{N}^{(3)}_{e1n} - b_n \mathbf{M}^{(3)}_{o1n}\big],\\
    \mathbf{H} = -m_l \sum_n E_n\big[d_n \mathbf{M}^{(1)}_{e1n} + i c_n \mathbf{N}^{(1)}_{o1n}
        - i b_n \mathbf{N}^{(3)}_{o1n} - a_n \mathbf{M}^{(3)}_{e1n}\big],
    \qquad E_n = i^n \frac{2n+1}{n(n+1)},

(Bohren & Huffman 4.37-4.45; outside, c = d = 1 is the incident wave and a, b are the Mie
coefficients; in the core a = b = 0). They are evaluated without forming the coefficients:
see jaxmie._layer_fields for the scaled amplitudes that keep every intermediate finite in
thick absorbing layers, and jaxmie._vsh for the Cartesian form of the harmonics that is
regular on the z axis. Outside the particle the incident wave is added in closed form, so
the number of orders only has to converge the scattered field.

Orders: by default `jaxmie.n_max_near_field` (x + 12 x^(1/3) + 3 for outer size parameter
x, rounded up to a multiple of 8; derived in jaxmie._truncation), which converges E and H at
the outer surface, where the series converges slowest, to ~1e-15 of max(1, |E|)
(tests/test_defaults.py, against a 30-digit reference). The series is
over-provisioning-safe: a larger static `n_max` costs time, not accuracy.

References:
    C. F. Bohren and D. R. Huffman, Absorption and Scattering of Light by Small Particles
    (Wiley, 1983), sections 4.1-4.4.
    W. Yang, Appl. Opt. 42, 1710 (2003).
    J. R. Allardice and E. C. Le Ru, Appl. Opt. 53, 7224 (2014).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import _layer_fields
from . import _special as special
from . import _vsh as vsh
from ._batching import map_batch
from ._coefficients import _size_parameters
from ._dispatch import particle_jit, prepare
from ._particles import Particle, layer_radii
from ._truncation import n_max_near_field
from ._typing import ComplexResult, FieldKind, HostIndex, Plane, Polarization, Positions, Wavelength

__all__ = [
    "FieldMap",
    "LayerCoefficients",
    "field_map",
    "fields",
    "internal_coefficients",
    "plane_positions",
    "plot_field_map",
]

_FIELDS = ("total", "scattered", "incident")


def _prepare(particle, wavelength, n_env, n_max, positions=None):
    """(checked wavelength, n_max): the near-field expansions need orders 1 and 2 at least."""
    return prepare(particle, wavelength, n_env, n_max, rule=n_max_near_field, minimum=2,
                   positions=positions)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LayerCoefficients:
    """Field coefficients of every layer (Yang 2003), shape (*P, *W, L, n_max).

    In layer l (index l - 1 along the layer axis) the field is
    sum_n E_n [c M^(1)_o1n - i d N^(1)_e1n + i a N^(3)_e1n - b M^(3)_o1n] (see jaxmie.fields).
    For a homogeneous sphere c, d are Bohren & Huffman's c_n, d_n (4.52-4.53). In the core
    a = b = 0. a_out, b_out (shape (*P, *W, n_max)) are the scattering coefficients.

    These are the textbook coefficients: for a thick absorbing layer they span hundreds of
    decades and can over- or underflow (|Im m x| beyond ~700); `fields` never forms them.
    """

    a: jax.Array
    b: jax.Array
    c: jax.Array
    d: jax.Array
    a_out: jax.Array
    b_out: jax.Array


def _wavenumber(particle: Particle, wavelength, n_env, dtype) -> jax.Array:
    """Host wavenumber 2 pi n_env / wavelength in 1/nm, shape (*P, *W)."""
    wavelength = jnp.asarray(wavelength).astype(dtype)
    batch = layer_radii(particle).shape[:-1]
    k = 2 * jnp.pi * jnp.asarray(n_env).astype(dtype) / wavelength
    return jnp.broadcast_to(k, (*batch, *wavelength.shape)) if batch else k


@functools.partial(jax.jit, static_argnames=("n_max",))
def _batched_coefficients(x, m, n_max):
    batch, n_layers = x.shape[:-1], x.shape[-1]
    t = jax.vmap(lambda xm: _layer_fields.layer_tables(xm[0], xm[1], n_max))(
        (x.reshape(-1, n_layers), m.reshape(-1, n_layers)))
    c, d = (t.alpha[:, :-1, i] / t.psi_out for i in (0, 1))
    b, a = (-t.beta[:, :-1, i] * t.inv_zeta_in for i in (0, 1))
    shape = (*batch, n_layers, n_max)
    return LayerCoefficients(a=a.reshape(shape), b=b.reshape(shape), c=c.reshape(shape),
                             d=d.reshape(shape), a_out=t.a.reshape(*batch, n_max),
                             b_out=t.b.reshape(*batch, n_max))


def internal_coefficients(particle: Particle, wavelength: Wavelength, n_env: HostIndex = 1.0,
                          n_max: int | None = None) -> LayerCoefficients:
    """Field coefficients a, b, c, d of every layer and the scattering coefficients.

    Args:
        particle: Sphere, CoreShell or Multilayer, batch shape P (radii in nm).
        wavelength: vacuum wavelengths in nm, shape W.
        n_env: real host index.
        n_max: number of orders (static); None uses `n_max_near_field` (concrete sizes).

    Returns:
        LayerCoefficients with a, b, c, d of shape (*P, *W, L, n_max) and a_out, b_out of
        shape (*P, *W, n_max); complex, order n = 1..n_max on the last axis.
    """
    wavelength, n_max = _prepare(particle, wavelength, n_env, n_max)
    return _coefficients_call(particle, wavelength, n_env, n_max=n_max)


@functools.partial(particle_jit, static_argnames=("n_max",))
def _coefficients_call(particle, wavelength, n_env, n_max):
    return _batched_coefficients(*_size_parameters(particle, wavelength, n_env), n_max)


def _series_at_point(t, k, position, n_max):
    """Series part of (E, H) at one position (3,) nm, x-polarised incidence.

    Inside the particle this is the total field; outside it is the scattered field.
    Returns (E, H, outside): complex (3,), complex (3,), bool scalar.
    """
    position = _layer_fields.off_centre(t, k, position)
    r = jnp.sqrt(jnp.sum(position**2))
    f, df, rho, m_j, outside = _layer_fields.radial_functions(t, k * r, n_max)
    e_field, h_field = vsh.plane_wave_series(f, df, rho, position, r, n_max)
    return e_field, m_j * h_field, outside


def _incident(k, position):
    phase = jnp.exp(1j * k * position[..., 2])
    zero = jnp.zeros_like(phase)
    return jnp.stack([phase, zero, zero], -1), jnp.stack([zero, phase, zero], -1)


def _fields_x(t, k, position, n_max, field):
    """(E, H) at one position for x-polarised incidence; field in _FIELDS."""
    e_inc, h_inc = _incident(k, position)
    if field == "incident":
        return e_inc, h_inc
    e_s, h_s, outside = _series_at_point(t, k, position, n_max)
    # The series is the total field inside and the scattered field outside.
    add = outside if field == "total" else jnp.logical_not(outside)
    sign = 1 if field == "total" else -1
    weight = jnp.where(add, sign, 0).astype(k.dtype)
    return e_s + weight * e_inc, h_s + weight * h_inc


def _fields_one(t, k, position, n_max, field, polarization):
    if polarization == "x":
        return _fields_x(t, k, position, n_max, field)
    # y polarisation: the x-polarised solution rotated by +90 degrees about z.
    x, y, z = position[0], position[1], position[2]
    e, h = _fields_x(t, k, jnp.stack([y, -x, z]), n_max, field)
    rotate = lambda v: jnp.stack([-v[1], v[0], v[2]])
    return rotate(e), rotate(h)


@functools.partial(jax.jit, static_argnames=("n_max", "field", "polarization"))
def _batched_fields(x, m, k, positions, n_max, field, polarization):
    batch, n_layers = x.shape[:-1], x.shape[-1]
    flat_positions = positions.reshape(-1, 3)

    def one_particle(xmk):
        x1, m1, k1 = xmk
        t = _layer_fields.layer_tables(x1, m1, n_max)
        point = lambda p: _fields_one(t, k1, p, n_max, field, polarization)
        return map_batch(point, flat_positions)

    e, h = jax.vmap(one_particle)((x.reshape(-1, n_layers), m.reshape(-1, n_layers),
                                   k.reshape(-1)))
    shape = (*batch, *positions.shape[:-1], 3)
    return e.reshape(shape), h.reshape(shape)


def fields(particle: Particle, wavelength: Wavelength, positions: Positions,
           n_env: HostIndex = 1.0, n_max: int | None = None, *, field: FieldKind = "total",
           polarization: Polarization = "x") -> tuple[ComplexResult, ComplexResult]:
    """Electric and magnetic near fields at Cartesian positions (Bohren & Huffman setup).

    Args:
        particle: Sphere, CoreShell or Multilayer centred at the origin, batch shape P
            (radii in nm).
        wavelength: vacuum wavelengths in nm, shape W.
        positions: real array (*X, 3) of Cartesian points (x, y, z) in nm, anywhere: in the
            core, in any shell, on an interface, outside, on the z axis or at the origin.
        n_env: real host index.
        n_max: number of orders (static int). None uses `n_max_near_field` on the largest
            outer size parameter (concrete sizes only; inside jit/grad pass it).
        field: "total" (default), "scattered" (total minus the incident plane wave, also
            inside the particle) or "incident" (the plane wave alone, in closed form).
        polarization: "x" (default) or "y": direction of the incident electric field.

    Returns:
        (E, H): complex arrays of shape (*P, *W, *X, 3), Cartesian components, E relative
        to the incident amplitude E_0 and H relative to H_0 = n_env E_0 / Z_0 (so that the
        incident wave is E = exp(ikz) x, H = exp(ikz) y for x polarisation).
    """
    if field not in _FIELDS:
        raise ValueError(f"field must be one of {_FIELDS}; got {field!r}")
    if polarization not in ("x", "y"):
        raise ValueError(f"polarization must be 'x' or 'y'; got {polarization!r}")
    if np.ndim(positions) < 1 or np.shape(positions)[-1] != 3:
        raise ValueError(f"positions must have shape (..., 3); got {np.shape(positions)}")
    wavelength, n_max = _prepare(particle, wavelength, n_env, n_max, positions)
    return _fields_call(particle, wavelength, positions, n_env, n_max=n_max, field=field,
                        polarization=polarization)


@functools.partial(particle_jit, static_argnames=("n_max", "field", "polarization"))
def _fields_call(particle, wavelength, positions, n_env, n_max, field, polarization):
    x, m = _size_parameters(particle, wavelength, n_env)
    k = jnp.broadcast_to(_wavenumber(particle, wavelength, n_env, x.dtype), x.shape[:-1])
    positions = jnp.asarray(positions).astype(x.dtype)
    return _batched_fields(x, m, k, positions, n_max, field, polarization)


def plane_positions(half_width: float = 200.0, n_points: int = 200, plane: Plane = "xz",
                    offset: float = 0.0):
    """A square grid of points in a coordinate plane through (or parallel to) the centre.

    Args:
        half_width: the grid spans [-half_width, half_width] nm along both in-plane axes.
        n_points: points per axis (static int).
        plane: "xz", "yz" or "xy" (first letter = horizontal axis u, second = vertical v).
        offset: position of the plane along the remaining axis, nm.

    Returns:
        (u, v, positions): u, v real (n_points,) in nm, positions (n_points, n_points, 3)
        with positions[i, j] at (u[j], v[i]) (rows along v, as images are drawn).
    """
    axes = {"xz": (0, 2, 1), "yz": (1, 2, 0), "xy": (0, 1, 2)}
    if plane not in axes:
        raise ValueError(f"plane must be one of {tuple(axes)}; got {plane!r}")
    iu, iv, iw = axes[plane]
    u = jnp.linspace(-half_width, half_width, n_points)
    v = jnp.linspace(-half_width, half_width, n_points)
    vv, uu = jnp.meshgrid(v, u, indexing="ij")
    positions = jnp.zeros((n_points, n_points, 3), u.dtype)
    positions = positions.at[..., iu].set(uu).at[..., iv].set(vv)
    positions = positions.at[..., iw].set(offset)
    return u, v, positions


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class FieldMap:
    """Field intensities on a plane grid.

    Attributes:
        u, v: grid coordinates in nm, shape (n_points,) each (horizontal, vertical).
        e2, h2: |E|^2 and |H|^2 relative to the incident wave, shape (*P, *W, n_v, n_u).
        radii: layer radii in nm, shape (*P, L) (for drawing the interfaces).
        plane: the plane's name, e.g. "xz" (static).
    """

    u: jax.Array
    v: jax.Array
    e2: jax.Array
    h2: jax.Array
    radii: jax.Array
    plane: str = dataclasses.field(metadata={"static": True}, default="xz")


def field_map(particle: Particle, wavelength: Wavelength, n_env: HostIndex = 1.0,
              n_max: int | None = None, *,
              half_width: float = 200.0, n_points: int = 200, plane: Plane = "xz",
              offset: float = 0.0, field: FieldKind = "total",
              polarization: Polarization = "x") -> FieldMap:
    """|E|^2 and |H|^2 on a square grid in a coordinate plane (see plane_positions).

    Args:
        particle, wavelength, n_env, n_max, field, polarization: as in `fields`.
        half_width, n_points, plane, offset: as in `plane_positions` (nm).

    Returns:
        FieldMap; e2 and h2 have shape (*P, *W, n_points, n_points).
    """
    u, v, positions = plane_positions(half_width, n_points, plane, offset)
    e, h = fields(particle, wavelength, positions, n_env, n_max, field=field,
                  polarization=polarization)
    def intensity(f):
        return jnp.sum(special.abs_squared(f), axis=-1)

    return FieldMap(u=u, v=v, e2=intensity(e), h2=intensity(h), radii=layer_radii(particle),
                    plane=plane)


def plot_field_map(fmap: FieldMap, quantity: str = "e2", ax=None, log: bool = False,
                   interfaces: bool = True, cmap: str = "inferno", **imshow_kwargs):
    """Draw one map of a single particle at one wavelength with matplotlib.

    Args:
        fmap: a FieldMap whose e2/h2 are 2-D (n_points, n_points).
        quantity: "e2" (|E|^2) or "h2" (|H|^2).
        ax: matplotlib Axes (a new figure if None).
        log: colour scale in log10.
        interfaces: draw the layer interfaces as dashed circles (planes through the centre).
        cmap, imshow_kwargs: passed to Axes.imshow.

    Returns:
        (ax, image): the Axes and the AxesImage (for a colour bar).
    """
    import matplotlib.pyplot as plt  # only the plotting helper needs matplotlib

    values = np.asarray(getattr(fmap, quantity))
    if values.ndim != 2:
        raise ValueError(f"plot_field_map draws one map; {quantity} has shape {values.shape}")
    if ax is None:
        _, ax = plt.subplots()
    u, v = np.asarray(fmap.u), np.asarray(fmap.v)
    extent = (u[0], u[-1], v[0], v[-1])
    shown = np.log10(values) if log else values
    image = ax.imshow(shown, origin="lower", extent=extent, cmap=cmap, **imshow_kwargs)
    if interfaces:
        for radius in np.asarray(fmap.radii).reshape(-1):
            ax.add_patch(plt.Circle((0, 0), radius, fill=False, ls="--", lw=0.8, color="w"))
    ax.set_xlabel(f"{fmap.plane[0]} (nm)")
    ax.set_ylabel(f"{fmap.plane[1]} (nm)")
    label = {"e2": "|E|^2", "h2": "|H|^2"}.get(quantity, quantity)
    ax.set_title(f"log10 {label}" if log else label)
    return ax, image
