"""The README's configuration table must name every setting Fovea reads."""

from pathlib import Path

from fovea.config import Settings

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [
        f"FOVEA_{name.upper()}"
        for name in Settings.model_fields
        if f"`FOVEA_{name.upper()}`" not in README
    ]
    assert missing == []


def test_readme_gives_the_two_commands() -> None:
    assert "make run" in README
    assert "make test" in README
