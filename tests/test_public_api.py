import inspect
import subprocess
import sys

import fovea


def test_public_names_are_exactly_the_documented_ones() -> None:
    exported = {
        name
        for name, value in vars(fovea).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    lazy = {"ModelSpec", "Repository", "ServedModel"}
    assert exported | lazy == set(fovea.__all__) - {"__version__"}
    for name in fovea.__all__:
        assert getattr(fovea, name) is not None


def test_importing_fovea_loads_no_model_runtime() -> None:
    server_side = ("fovea.models", "fovea.runtime", "fovea.serving", "onnxruntime")
    code = (
        f"import sys, fovea; print(sorted(m for m in sys.modules if m.startswith({server_side})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
    assert fovea.Repository.__module__ == "fovea.models._repository"
