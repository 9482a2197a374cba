"""Large calls on the JAX implementation run within a memory bound.

The JAX implementation (JAXMIE_NATIVE=0, float32, more than four layers, no compiler) once
held every order of every particle-wavelength pair: 36.6 GB for a 4096 x 4096 efficiencies
call that the native kernel streams in 2.6 GB, and a gradient of 512 x 1024 core-shells ran
out of 24 GB. Each case runs in a fresh process (peak resident memory is per process) with
the native kernel off; its growth over a warmed-up baseline is bounded by a few times the
inputs and outputs, far below what holding the orders would take. bench/bench_memory.py
measures the same against the native kernel at 4096 x 4096 and 10^7 pairs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import resource, sys
    import jax, jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    import jaxmie as jm

    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB

    n_radii, n_wavelengths, gradient = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
    wavelength = jnp.linspace(400.0, 900.0, n_wavelengths)

    def total(radius):
        particle = jm.CoreShell(0.5 * radius, radius, 2.0 + 0.1j, 1.5 + 0.01j)
        return jm.efficiencies(particle, wavelength, n_max=24).q_sca.sum()

    run = jax.jit(jax.grad(total) if gradient else total)
    large = jnp.linspace(10.0, 200.0, n_radii)
    compiled = run.lower(large).compile()
    baseline = peak_mb()
    jax.block_until_ready(compiled(large))
    print("GROWTH_MB", peak_mb() - baseline)
""")


def _growth_mb(n_radii: int, n_wavelengths: int, gradient: bool) -> float:
    env = {**os.environ, "JAXMIE_NATIVE": "0", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(n_radii), str(n_wavelengths), str(int(gradient))],
        capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr  # a kill for memory fails here too
    return float(result.stdout.split("GROWTH_MB")[-1])


def test_efficiencies_of_many_pairs_stream():
    """128 x 1024 core-shell pairs at 24 orders: inputs and outputs take ~10 MB, holding the
    orders of every pair grew the process by 409 MB (50 MB streamed); the bound is 150 MB."""
    assert _growth_mb(128, 1024, gradient=False) < 150


@pytest.mark.slow
def test_gradients_of_many_pairs_stream():
    """The gradient of 128 x 1024 pairs: storing every pair's intermediates took ~40 kB a
    pair (5 GB here); streamed, the process may grow by 300 MB."""
    assert _growth_mb(128, 1024, gradient=True) < 300
