"""Issue 9 points 7, 8, 9 and 10 through the whole pipeline on localaws, checked in Athena.

Stack 'bytes' is provisioned by the unchanged provision.py; each case is uploaded under raw/, the transform Lambda
runs from its zip, the crawler catalogs processed/, and pyathena queries the tables. Valid JSON that Python's
parser used to send to the dead-letter queue lands (a lone surrogate, `-NaN`, Firehose's `{...}{...}`, UTF-16 from
PowerShell); bad bytes (too deep, CSV) are quarantined with a reason on the first attempt.
"""

from __future__ import annotations

import bz2
import codecs
import json
import lzma
import math
from pathlib import Path

import boto3
import pytest

from kit.athena_client import connect
from kit.local_endpoint import wait_idle
from tests.conftest import provision_stack

pytestmark = [pytest.mark.localaws, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "pipeline" / "cases"
STACK = "bytes"
LIMIT = 500  # config.MAX_NESTING_DEPTH, as docs/transform.md states it


def deep(depth: int) -> str:
    return '{"a":' * (depth - 1) + '{"leaf": 1}' + "}" * (depth - 1)


UPLOADS = {
    "raw/tweets/t.jsonl": (CASES / "lone-surrogate.jsonl").read_bytes(),
    "raw/numbers/minus-nan.json": (CASES / "minus-nan.json").read_bytes(),
    "raw/numbers/minus-nan.ndjson": (CASES / "minus-nan.ndjson").read_bytes(),
    "raw/firehose/delivery-1.json": b'{"n": 1, "s": "}{"}{"n": 2, "s": "a"}{"n": 3, "s": null}',
    "raw/powershell/export.json": codecs.BOM_UTF16_LE + '{"n": 1, "who": "Jürgen"}\r\n'.encode("utf-16-le"),
    "raw/nested/at-limit.ndjson": f'{{"n": 1}}\n{deep(LIMIT)}\n'.encode(),
    "raw/nested/too-deep.json": f'[{{"n": 1}}, {deep(20_000)}]'.encode(),  # segfaulted pyarrow before
    "raw/nested/one-over.ndjson": f'{{"n": 1}}\n{deep(LIMIT + 1)}\n'.encode(),
    "raw/sheets/export.json": b"id,name\n1,Ann\n",  # CSV under a .json name: the bytes decide
    "raw/packed/a.json.bz2": bz2.compress(b'{"n": 1}\n{"n": 2}\n'),
    "raw/packed/b.json.xz": lzma.compress(b'[{"n": 3}]'),
    # zstd: the Lambda layer's pyarrow has no zstd codec (aws-sdk-pandas#2445), and localaws' layer has none either
    "raw/packed/c.json.zst": bytes.fromhex("28b52ffd") + b"\x00" * 16,
}


@pytest.fixture(scope="module")
def stack(localaws, tmp_path_factory: pytest.TempPathFactory):
    stacks_dir = tmp_path_factory.mktemp("bytes-stacks")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in localaws.env().items():
            patch.setenv(name, value)
        outputs = provision_stack(STACK, stacks_dir)
        s3 = boto3.client("s3")
        for key, body in UPLOADS.items():
            s3.put_object(Bucket=outputs["bucket"], Key=key, Body=body)
        assert wait_idle(localaws.endpoint, timeout=300), "localaws still busy after 300 s"
        cursor = connect(work_group=outputs["workgroup"], schema_name=outputs["glue_database"]).cursor()
        yield outputs, s3, cursor


def query(cursor, sql: str) -> list[tuple]:
    cursor.execute(sql)
    return [tuple(row) for row in cursor.fetchall()]


def report(stack, key: str) -> dict:
    outputs, s3, _ = stack
    body = s3.get_object(Bucket=outputs["bucket"], Key=f"quarantine/{key}.error.json")["Body"].read()
    return json.loads(body)


def test_a_lone_surrogate_lands_as_the_replacement_character(stack) -> None:
    rows = query(stack[2], "SELECT id, text, user_screen_name FROM tweets ORDER BY id")
    assert rows == [
        (1242339650888331268, "Sunset at the pier \U0001f305", "fake_user_1"),
        (1242339650888331272, "Best day ever \ufffd", "fake_user_5"),
    ]


def test_minus_nan_lands_the_same_from_an_array_and_from_ndjson(stack) -> None:
    rows = query(stack[2], "SELECT i, k FROM numbers ORDER BY i")  # two rows from each file
    assert [i for i, _ in rows] == [1, 1, 2, 2]
    assert [math.isnan(k) for _, k in rows[:2]] == [True, True] and [k for _, k in rows[2:]] == [2.5, 2.5]


def test_firehose_objects_back_to_back_land(stack) -> None:
    assert query(stack[2], "SELECT n, s FROM firehose ORDER BY n") == [(1, "}{"), (2, "a"), (3, None)]


def test_utf16_with_a_bom_lands(stack) -> None:
    assert query(stack[2], "SELECT n, who FROM powershell") == [(1, "Jürgen")]


def test_a_record_at_the_depth_limit_lands(stack) -> None:
    assert query(stack[2], "SELECT count(*) FROM nested") == [(2,)]


@pytest.mark.parametrize("key", ["nested/too-deep.json", "nested/one-over.ndjson"])
def test_deeper_records_are_quarantined_with_the_limit(stack, key) -> None:
    assert f"nested more than {LIMIT} levels deep" in report(stack, key)["reason"]


def test_csv_is_quarantined_with_what_is_supported(stack) -> None:
    found = report(stack, "sheets/export.json")
    assert "CSV" in found["reason"] and "NDJSON" in found["expected"] and "gzip" in found["expected"]


def test_bzip2_and_xz_land_and_zstd_without_a_decoder_is_quarantined(stack) -> None:
    assert query(stack[2], "SELECT n FROM packed ORDER BY n") == [(1,), (2,), (3,)]
    found = report(stack, "packed/c.json.zst")
    assert "zstd" in found["reason"] and "bzip2, xz" in found["expected"] and "zstd" not in found["expected"]


def test_bad_bytes_were_quarantined_on_the_first_attempt(stack, localaws_env) -> None:
    outputs, _, _ = stack
    logs = boto3.client("logs")
    group = f"/aws/lambda/{outputs['functions']['transform']['name']}"
    messages = [event["message"] for event in logs.filter_log_events(logGroupName=group)["events"]]
    quarantined = [m for m in messages if '"status": "quarantined"' in m]
    keys = sorted(json.loads(m.split("\t", 3)[-1])["key"] for m in quarantined)
    assert keys == [
        "raw/nested/one-over.ndjson",
        "raw/nested/too-deep.json",
        "raw/packed/c.json.zst",
        "raw/sheets/export.json",
    ]
    assert not [m for m in messages if "Traceback" in m or "RecursionError" in m]
