"""What a job runs over: folders by content type, lists of paths or URLs, and the roots that
server folder jobs must stay under."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fovea.errors import FolderRefused, InvalidRequest
from fovea.jobs import sources
from tests.jobs.camera import EXPECTED_FILES, nested_folder


def test_folder_scan_by_content_type_any_case_sorted(tmp_path: Path) -> None:
    root = nested_folder(tmp_path / "traps")
    items = sources.scan_folder(root)
    assert [i.file for i in items] == EXPECTED_FILES  # notes.txt left out, B.JPG kept
    assert items[0].location == str(root / "cam1" / "a.jpg")
    assert [i.file for i in sources.scan_folder(root, recursive=False)] == []
    assert [i.file for i in sources.scan_folder(root / "cam1", recursive=False)] == ["a.jpg"]


def test_symlinks_are_followed_only_inside_the_folder(tmp_path: Path) -> None:
    root = nested_folder(tmp_path / "traps")
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"x")
    (root / "escape").symlink_to(outside)
    (root / "escape.jpg").symlink_to(outside / "secret.jpg")
    (root / "alias").symlink_to(root / "cam2")  # inside: its files are found once
    (root / "loop").symlink_to(root)
    files = [i.file for i in sources.scan_folder(root)]
    assert files == EXPECTED_FILES


def test_kinds() -> None:
    assert (
        sources.kind_of("a.JPG") == sources.kind_of("b.webp") == sources.kind_of("c.TiF") == "image"
    )
    assert sources.kind_of("clip.MP4") == "video"
    assert sources.kind_of("notes.txt") is None
    assert sources.kind_of("noext") is None


def test_text_and_json_lists(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    text = tmp_path / "list.txt"
    text.write_text("# my photos\nsub/a.jpg\n\nhttps://example.org/x.jpg\n/abs/b.JPG\nsub\\a.jpg\n")
    items = sources.read_list(text)
    assert [(i.file, i.is_url) for i in items] == [
        ("sub/a.jpg", False),
        ("https://example.org/x.jpg", True),
        ("/abs/b.JPG", False),
    ]
    assert items[0].location == str(tmp_path / "sub" / "a.jpg")
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps(["sub/a.jpg", "https://example.org/y.png"]))
    assert [i.file for i in sources.read_list(listed)] == ["sub/a.jpg", "https://example.org/y.png"]
    for bad in ("{not json", '{"a": 1}', "[1, 2]"):
        listed.write_text(bad)
        with pytest.raises(InvalidRequest):
            sources.read_list(listed)


def test_open_source_and_urls(tmp_path: Path) -> None:
    root = nested_folder(tmp_path / "traps")
    base, items = sources.open_source(root)
    assert base == root.resolve()
    assert len(items) == len(EXPECTED_FILES)
    with pytest.raises(InvalidRequest, match="no such"):
        sources.open_source(tmp_path / "absent")
    with pytest.raises(InvalidRequest, match="http"):
        sources.urls(["file:///etc/passwd"])
    assert [i.file for i in sources.urls(["https://a.org/1.jpg"] * 2)] == ["https://a.org/1.jpg"]
    with pytest.raises(InvalidRequest, match="not a folder"):
        sources.scan_folder(root / "cam1" / "a.jpg")


def test_folders_must_lie_under_a_root(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "site").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    (root / "link-out").symlink_to(tmp_path / "other")
    (root / "photo.jpg").write_bytes(b"")
    assert sources.folder_under(str(root / "site"), [root]) == (root / "site").resolve()
    refused = {
        "no roots": (str(root / "site"), []),
        "outside": (str(tmp_path / "other"), [root]),
        "dot-dot": (f"{root}/site/../../other", [root]),
        "relative": ("data/site", [root]),
        "symlink out": (str(root / "link-out"), [root]),
        "missing": (str(root / "nope"), [root]),
        "a file": (str(root / "photo.jpg"), [root]),
    }
    for path, roots in refused.values():
        with pytest.raises(FolderRefused):
            sources.folder_under(path, roots)
