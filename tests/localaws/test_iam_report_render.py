"""The IAM report's text fits a terminal: `make demo` prints its summary (it printed a ~330-character line)."""

from __future__ import annotations

from localaws.iam import report

ACTIONS = [f"s3:{verb}" for verb in ("GetObject", "PutObject", "DeleteObject", "ListBucket", "GetBucketLocation")]
ACTIONS += [
    f"glue:{verb}" for verb in ("GetTable", "CreateTable", "UpdateTable", "BatchCreatePartition", "GetDatabase")
]


def entry(used: list[str], unused: list[str]) -> dict:
    return {
        "used": [{"action": action, "resource": "*", "count": 1} for action in used],
        "denied": [{"action": "sqs:SendMessage", "resource": "*", "count": 2}],
        "allowed_but_unused": [{"action": action, "resource": "*", "policy": "p", "sid": ""} for action in unused],
        "smallest_policy": {"Version": "2012-10-17", "Statement": []},
    }


def test_the_summary_wraps_at_the_report_width_and_keeps_every_action() -> None:
    arn = "arn:aws:sts::123456789012:assumed-role/etl-transform-role/etl-transform"
    text = report.render_summary({"mode": "enforce", "principals": {arn: entry(ACTIONS, ["logs:PutLogEvents"])}})
    assert max(map(len, text.splitlines())) <= report.REPORT_WIDTH
    words = " ".join(text.split())
    assert all(action in words for action in [*ACTIONS, "sqs:SendMessage", "logs:PutLogEvents"])
    assert "localaws, not with the role" in words  # the service-side note, wrapped too


def test_the_full_report_wraps_its_note() -> None:
    text = report.render({"mode": "enforce", "principals": {"arn:aws:iam::1:user/a": entry(ACTIONS[:2], [])}})
    assert max(map(len, text.splitlines())) <= report.REPORT_WIDTH
