"""provision.py closes with next steps that fit its world (tests/kit/test_hints.py), unless its caller says its own."""

from __future__ import annotations


def test_provision_without_next_steps_leaves_them_to_the_caller(cloud, provision_run):
    first = provision_run().text
    assert "Next, in AWS account 123456789012" in first and "make lab TARGET=aws STACK=etl" in first
    assert "Next" not in provision_run("--no-next-steps").text
