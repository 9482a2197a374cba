"""Small dense linear solves in plain XLA operations (no LAPACK custom call).

jaxlib 0.10 runs a batched LAPACK call (getrf, trsm) as a parallel loop on XLA's CPU
intra-op thread pool and blocks the calling pool thread until the loop is done. When XLA
runs two such calls at once (e.g. the primal and tangent triangular solves of a JVP inside a
`scan`, vmapped over >= 8 problems) on a pool of two threads, both threads wait for tasks
that no thread is left to run: the program hangs (seen on the 2-core CI machine with the
RFA mixture vmapped over curves). Gaussian elimination written in lax operations has no
custom call and batches under vmap like any other operation; for the K <= ~100 systems it
is used for, it costs about what LAPACK does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["small_solve"]


def _eliminate(a: jax.Array, b: jax.Array) -> jax.Array:
    """x with a x = b by Gaussian elimination with partial pivoting; a (K, K), b (K, C)."""
    n = a.shape[0]
    rows = jnp.arange(n)
    m = jnp.concatenate([a, b.astype(jnp.result_type(a, b))], axis=1)

    def forward(j, m):
        magnitude = jnp.where(rows >= j, jnp.abs(m[:, j]), -1.0)
        p = jnp.argmax(magnitude)
        row_j, row_p = m[j], m[p]
        m = m.at[p].set(row_j).at[j].set(row_p)
        factors = jnp.where(rows > j, m[:, j] / m[j, j], 0.0)
        return m - factors[:, None] * m[j][None, :]

    m = lax.fori_loop(0, n, forward, m)
    u, y = m[:, :n], m[:, n:]

    def backward(i, x):  # rows below k are solved, row k and above are still zero
        k = n - 1 - i
        return x.at[k].set((y[k] - u[k] @ x) / u[k, k])

    return lax.fori_loop(0, n, backward, jnp.zeros_like(y))


def small_solve(a: jax.Array, b: jax.Array) -> jax.Array:
    """Solve a x = b for a small dense matrix (module docstring: why not jnp.linalg.solve).

    Args:
        a: shape (K, K), real or complex, nonsingular.
        b: shape (K,) or (K, C).

    Returns:
        x of b's shape, dtype of a and b combined. Differentiable in a and b (forward and
        reverse mode, higher orders) through lax.custom_linear_solve: derivatives solve with
        a or its transpose, never differentiate the elimination.
    """
    vector = b.ndim == 1
    rhs = b[:, None] if vector else b
    rhs = rhs.astype(jnp.result_type(a, rhs))
    x = lax.custom_linear_solve(lambda v: a @ v, rhs,
                                solve=lambda _, r: _eliminate(a, r),
                                transpose_solve=lambda _, r: _eliminate(a.T, r))
    return x[:, 0] if vector else x
