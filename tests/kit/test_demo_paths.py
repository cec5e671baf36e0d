"""`make demo` names its log as README shows it: relative to the repository, where the command runs."""

from __future__ import annotations

from pathlib import Path

from kit.demo import shown_path
from kit.local_endpoint import REPO_ROOT


def test_a_path_inside_the_repository_is_shown_relative_to_it() -> None:
    assert shown_path(REPO_ROOT / ".stacks" / "localaws-demo.log") == ".stacks/localaws-demo.log"


def test_a_path_elsewhere_is_shown_whole(tmp_path: Path) -> None:
    assert shown_path(tmp_path / "localaws-demo.log") == str(tmp_path / "localaws-demo.log")
