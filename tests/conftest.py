"""Shared test configuration: float64 (or, with JAXMIE_TEST_FLOAT32=1, JAX's default float32
for the float32 pass of .ci/run), a deterministic hypothesis profile, a slow marker."""

import os

import jax
import pytest
from hypothesis import HealthCheck, settings

FLOAT32_PASS = os.environ.get("JAXMIE_TEST_FLOAT32") == "1"
jax.config.update("jax_enable_x64", not FLOAT32_PASS)

# Reproducible property tests in CI (as in jax's own hypothesis_test_util).
settings.register_profile(
    "deterministic",
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=int(os.environ.get("JAXMIE_HYPOTHESIS_EXAMPLES", "40")),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("deterministic")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run the tests marked slow")


def pytest_collection_modifyitems(config, items):
    # The float32 pass runs only the tests written for it; the float64 run skips those.
    for item in items:
        if ("float32_pass" in item.keywords) != FLOAT32_PASS:
            item.add_marker(pytest.mark.skip(reason="float32 pass only" if not FLOAT32_PASS
                                             else "float64 test"))
    if config.getoption("--runslow") or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
