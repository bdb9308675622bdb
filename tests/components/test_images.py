"""Images the stack builds: tagged by their sources; registry images used as given."""

from __future__ import annotations

from pathlib import Path

from components.images import ROOT, SOURCES, content_digest, version_label


def test_version_label_comes_from_tag_or_digest() -> None:
    assert version_label("ghcr.io/o/api:1.4.2@sha256:" + "f" * 64) == "1.4.2"
    assert version_label("registry:5000/o/api@sha256:" + "e" * 64) == "e" * 12
    assert version_label("api:2") == "2"
    assert version_label("reference") == "reference"


def test_tag_follows_the_sources(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    first = content_digest((tmp_path,))
    (tmp_path / "app.py").write_text("print(1)\n")
    assert content_digest((tmp_path,)) != first


def test_every_source_exists_and_every_dockerfile_copies_only_its_inputs() -> None:
    for name, source in SOURCES.items():
        assert source.dockerfile.is_file(), name
        assert all(path.exists() for path in source.inputs), name
        assert len(content_digest(source.inputs)) == 12
    # images/postgres builds from the root: .dockerignore must let exactly its inputs through.
    ignore = (ROOT / ".dockerignore").read_text()
    assert "!images/scripts/cron_runner.py" in ignore
    assert "!images/postgres/prodstack_pg" in ignore
