import inspect

import fovea


def test_public_names_are_exactly_the_documented_ones() -> None:
    exported = {
        name
        for name, value in vars(fovea).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert exported == set(fovea.__all__) - {"__version__"}
