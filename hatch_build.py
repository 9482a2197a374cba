"""Install-time build of jaxmie's native CPU kernel (see jaxmie/_native/_build.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class NativeKernelHook(BuildHookInterface):
    """Compiles jaxmie/_native/series.cc into the package before the wheel is assembled.
    Without a C++ compiler nothing is built and the wheel stays pure Python (jaxmie then
    uses its JAX implementation)."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        path = Path(self.root) / "jaxmie" / "_native" / "_build.py"
        spec = importlib.util.spec_from_file_location("_jaxmie_native_build", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if module.build():
            build_data["pure_python"] = False
            build_data["infer_tag"] = True
