"""`--help` of both scripts explains every flag, and states the region default and the memory choice."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from provision_helpers import provision, teardown

from kit.stack import ROOT


def _parser_of(script, monkeypatch):
    """The ArgumentParser `script.parse_args` builds, caught as it parses no arguments."""
    parsers = []
    original = script.argparse.ArgumentParser.parse_args
    monkeypatch.setattr(
        script.argparse.ArgumentParser, "parse_args", lambda self, argv: parsers.append(self) or original(self, argv)
    )
    script.parse_args([])
    (parser,) = parsers
    return parser


@pytest.mark.parametrize("script", [provision, teardown], ids=["provision", "teardown"])
def test_every_flag_has_help(script, monkeypatch):
    parser = _parser_of(script, monkeypatch)
    for action in parser._actions:
        assert action.help, action.option_strings


def test_help_states_region_default_and_memory_reasoning():
    text = subprocess.run(
        [sys.executable, "provision.py", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(text.split())  # argparse wraps lines
    assert "us-east-1" in text and "1024 MB" in text and "256 MB / 60 s" in text and "--catalog" in text
    assert "--pandas-layer-arn" in text and "--dry-run" in text
    teardown_text = subprocess.run(
        [sys.executable, "teardown.py", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "--all" in teardown_text and "--yes" in teardown_text and "--dry-run" in teardown_text


def test_help_says_the_transform_streams_and_what_bounds_a_file():
    """The transform streams every input in blocks (docs/transform.md, "Streaming"): memory does not grow with the
    file, so the help must not size files by memory ("1024 MB ... about 90 MB in one piece")."""
    text = subprocess.run(
        [sys.executable, "provision.py", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(text.split())
    assert "in one piece" not in text and "11x" not in text
    assert "streams every input" in text and "whatever the file's size" in text
    assert "--transform-tmp: spills of about 40% of the input" in text


@pytest.mark.parametrize("script", ["provision.py", "teardown.py"])
def test_help_never_breaks_a_name_at_a_hyphen(script):
    """argparse wraps at hyphens by default: `us-` / `east-1` and `/aws/service/aws-sdk-` / `pandas/...` could not be
    copied from the terminal."""
    text = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True, check=True)
    broken = [line for line in text.stdout.splitlines() if re.search(r"\w-$", line)]
    assert not broken


@pytest.mark.parametrize("script", [provision, teardown], ids=["provision", "teardown"])
def test_every_option_states_its_real_default_once(script, monkeypatch):
    """argparse's ArgumentDefaultsHelpFormatter appended "(default: None)" to --region and --profile, whose help
    states the default resolved at run time: each option's help gives its default once, and never None/False."""
    parser = _parser_of(script, monkeypatch)
    helps = {action.dest: parser._get_formatter()._expand_help(action) for action in parser._actions}
    for dest, text in helps.items():
        assert text.count("(default") <= 1, (dest, text)
        assert "(default: None)" not in text and "(default: False)" not in text, (dest, text)
    assert helps["region"].endswith(", else us-east-1)") and helps["profile"].endswith("else the default profile)")
    assert helps["stack"].endswith("(default: etl)")
