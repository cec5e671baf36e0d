"""`make demo` and `make lab` name their files as README shows them: relative to the repository, where the command
runs."""

from __future__ import annotations

from pathlib import Path

from kit.stack import ROOT as REPO_ROOT
from kit.stack import shown_path


def test_a_path_inside_the_repository_is_shown_relative_to_it() -> None:
    assert shown_path(REPO_ROOT / ".stacks" / "localaws-demo.log") == ".stacks/localaws-demo.log"


def test_a_path_elsewhere_is_shown_whole(tmp_path: Path) -> None:
    assert shown_path(tmp_path / "localaws-demo.log") == str(tmp_path / "localaws-demo.log")
