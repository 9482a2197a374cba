"""The README's Python examples run as written, and say what they claim."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples_run_and_hold():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 3
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    # The quickstart's shapes and the optax fit's answer, as the comments state them.
    assert namespace["e"].q_ext.shape == (256,)
    assert namespace["s1"].shape == (256, 181)
    assert namespace["q_ext"].shape == (1000, 256)
    assert np.isfinite(namespace["grads"].r_shell)
    np.testing.assert_allclose(namespace["best"], 55.0, atol=1e-3)
    assert namespace["E"].shape == (3, 3)
    assert np.all(np.isfinite(namespace["fmap"].e2))
    assert namespace["optics"].phase.shape == (3, 91)
    assert np.all(np.asarray(namespace["optics"].albedo) <= 1)
