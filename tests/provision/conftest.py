"""Fixtures for provision/teardown tests: moto in-process, the pandas layer's public SSM parameter, a call log."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from provision_helpers import Calls, Cloud, Run, mocked_cloud, provision, run_script, teardown

import kit.packaging
import kit.session


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    recorded = Calls()

    class RecordingCallLog(kit.session.CallLog):
        def __init__(self) -> None:
            super().__init__()
            recorded.logs.append(self)

        def record(self, model, params, **kwargs) -> None:
            super().record(model, params, **kwargs)
            if recorded.fail_on and recorded.fail_on[0] == model.name:
                error = recorded.fail_on[1]
                recorded.fail_on = None  # fail once: the re-run must get through
                raise error

    monkeypatch.setattr(kit.session, "CallLog", RecordingCallLog)
    return recorded


@pytest.fixture
def pipeline_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A frozen copy of pipeline/ to package, so edits made elsewhere mid-test don't change the code under test."""
    copy = tmp_path / "pipeline"
    shutil.copytree(kit.packaging.PIPELINE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(kit.packaging, "PIPELINE_DIR", copy)
    return copy


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pipeline_copy: Path) -> Iterator[Cloud]:
    with mocked_cloud(monkeypatch, tmp_path / "stacks") as mocked:
        yield mocked


@pytest.fixture
def provision_run() -> Callable[..., Run]:
    return lambda *argv: run_script(provision.main, *argv)


@pytest.fixture
def teardown_run() -> Callable[..., Run]:
    def run(*argv: str, answer: str | None = None) -> Run:
        def ask(prompt: str) -> str:
            if answer is None:
                raise AssertionError(f"unexpected prompt: {prompt}")
            return answer

        return run_script(teardown.main, *argv, ask=ask)

    return run
