import fovea


def test_public_names_are_exactly_the_documented_ones() -> None:
    exported = {name for name in dir(fovea) if not name.startswith("_")} - {
        "api",
        "cli",
        "client",
        "config",
        "errors",
        "fetch",
        "model",
        "repository",
        "results",
        "runtime",
        "service",
        "spec",
        "tasks",
        "vision",
    }
    assert exported == set(fovea.__all__) - {"__version__"}
