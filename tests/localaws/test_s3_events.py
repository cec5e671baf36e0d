"""Parity tests for localaws's S3 event notifications.

Pure parts (key encoding, the record, matching, overlap, policies) are tested as functions; the rest against a real
localaws server process over HTTP, observing events through SQS queue destinations (the same message S3 gives Lambda).
"""

from __future__ import annotations

import io
import json
import re
import urllib.request
import uuid
import zipfile
from datetime import datetime
from urllib.parse import unquote_plus

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.serialize import create_serializer
from roles import allow_everything

from localaws.s3_events.records import CreatedObject, RequestFacts, Sequencer, build_event, encode_key, event_time
from localaws.s3_events.rules import LAMBDA, QUEUE, NotificationRule, find_overlap, parse_notification_xml
from localaws.s3_events.validation import AMBIGUOUS, SHARED_EVENT_TYPE, UNABLE_TO_VALIDATE, policy_allows

CONTENT_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html"
FILTER_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html"
PUT_CONFIG_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketNotificationConfiguration.html"
EVENT_TYPES_DOC = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html"
)


# -- key encoding (CONTENT_DOC: "red flower.jpg" becomes "red+flower.jpg") ----------------------------------------
@pytest.mark.parametrize(
    ("key", "encoded"),
    [
        ("red flower.jpg", "red+flower.jpg"),  # the documented example
        ("raw/orders/2024-01-01.json", "raw/orders/2024-01-01.json"),  # '/' is kept (minio/minio#11665)
        ("raw/a+b.json", "raw/a%2Bb.json"),  # a literal '+' must not read back as a space
        ("raw/file (1).json", "raw/file+%281%29.json"),
        ("test/10:47:07.log", "test/10%3A47%3A07.log"),  # aws/aws-sdk-js#837
        ("processed/dt=2024-01-01/x.parquet", "processed/dt%3D2024-01-01/x.parquet"),  # aws/aws-sam-cli#379
        ("raw/café.json", "raw/caf%C3%A9.json"),  # UTF-8 bytes, percent-encoded
        ("raw/a~b*c_d-e.f", "raw/a%7Eb*c_d-e.f"),  # Java URLEncoder's unreserved set: .-*_
    ],
)
def test_key_is_encoded_as_s3_encodes_it(key: str, encoded: str) -> None:
    assert encode_key(key) == encoded
    assert unquote_plus(encoded) == key  # what every handler must do (pitfall P1)


# -- the record (CONTENT_DOC) -----------------------------------------------------------------------------------
FACTS = RequestFacts(
    "eu-west-1",
    "AWS:AIDAEXAMPLE",
    "127.0.0.1",
    "C3D13FE58DE4C810",
    "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
    "A3NL1KOZZKExample",
)


def test_record_has_every_documented_field() -> None:
    obj = CreatedObject(
        "my-bucket", "raw/a b.json", 1024, "d41d8cd98f00b204e9800998ecf8427e", None, "0055AED6DCD90281E5"
    )
    when = datetime.fromisoformat("2026-11-26T17:05:33.123456+00:00")

    event = build_event("ObjectCreated:Put", obj, FACTS, "transform-raw", when)

    assert event == {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "eu-west-1",
                "eventTime": "2026-11-26T17:05:33.123Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": FACTS.request_id, "x-amz-id-2": FACTS.host_id},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "transform-raw",
                    "bucket": {
                        "name": "my-bucket",
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": "arn:aws:s3:::my-bucket",
                    },
                    "object": {
                        "key": "raw/a+b.json",
                        "size": 1024,
                        "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                        "sequencer": "0055AED6DCD90281E5",
                    },
                },
            }
        ]
    }


def test_record_carries_version_id_only_for_versioned_objects() -> None:
    versioned = CreatedObject("b", "k", 1, "e", "3HL4kqtJvjVBH40Nrjfkd", "01")
    record = build_event("ObjectCreated:Put", versioned, FACTS, "c")["Records"][0]
    assert record["s3"]["object"]["versionId"] == "3HL4kqtJvjVBH40Nrjfkd"


def test_event_time_is_iso_utc_with_milliseconds() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event_time())


def test_sequencers_are_hex_and_increase() -> None:
    # CONTENT_DOC: the sequencer orders events for one key; compare as hex strings of equal length.
    sequencer = Sequencer()
    values = [sequencer.next() for _ in range(1000)]
    assert all(re.fullmatch(r"[0-9A-F]{18}", v) for v in values)
    assert values == sorted(values) and len(set(values)) == len(values)


# -- matching (FILTER_DOC) --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("events", "prefix", "suffix", "event_name", "key", "fires"),
    [
        (("s3:ObjectCreated:*",), "raw/", ".json", "s3:ObjectCreated:Put", "raw/a.json", True),
        (("s3:ObjectCreated:*",), "raw/", ".json", "s3:ObjectCreated:CompleteMultipartUpload", "raw/a.json", True),
        (("s3:ObjectCreated:*",), "raw/", ".json", "s3:ObjectCreated:Put", "processed/a.json", False),
        (("s3:ObjectCreated:*",), "raw/", ".json", "s3:ObjectCreated:Put", "raw/a.json.tmp", False),
        (("s3:ObjectCreated:Copy",), "", "", "s3:ObjectCreated:Put", "a", False),
        (("s3:ObjectCreated:Copy", "s3:ObjectCreated:Put"), "", "", "s3:ObjectCreated:Put", "a", True),
        (("s3:ObjectRemoved:*",), "", "", "s3:ObjectCreated:Put", "a", False),
        (("s3:ObjectCreated:*",), "", "", "s3:ObjectCreated:Put", "anything", True),
        (("s3:ObjectCreated:*",), "Raw/", "", "s3:ObjectCreated:Put", "raw/a", False),  # filters are case-sensitive
    ],
)
def test_rule_matches_events_and_key_filters(events, prefix, suffix, event_name, key, fires) -> None:
    assert NotificationRule(LAMBDA, "arn", events, prefix, suffix).matches(event_name, key) is fires


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ((("s3:ObjectCreated:*",), "raw/", ".json"), (("s3:ObjectCreated:*",), "processed/", ".parquet"), False),
        ((("s3:ObjectCreated:*",), "", ""), (("s3:ObjectCreated:*",), "raw/", ""), True),  # no prefix overlaps all
        ((("s3:ObjectCreated:*",), "images/", ""), (("s3:ObjectCreated:*",), "images/jpg/", ""), True),
        ((("s3:ObjectCreated:*",), "", ".jpg"), (("s3:ObjectCreated:*",), "", ".png"), False),
        ((("s3:ObjectCreated:*",), "", "jpg"), (("s3:ObjectCreated:*",), "", ".jpg"), True),
        ((("s3:ObjectCreated:Put",), "raw/", ""), (("s3:ObjectCreated:*",), "raw/", ""), True),  # wildcard covers Put
        ((("s3:ObjectCreated:Put",), "raw/", ""), (("s3:ObjectCreated:Copy",), "raw/", ""), False),
        ((("s3:ObjectCreated:*",), "raw/", ""), (("s3:ObjectRemoved:*",), "raw/", ""), False),
    ],
)
def test_overlapping_rules_are_detected(a, b, overlap) -> None:
    rules = [NotificationRule(LAMBDA, "arn:1", *a), NotificationRule(QUEUE, "arn:2", *b)]
    assert (find_overlap(rules) is not None) is overlap


def test_parses_the_xml_botocore_sends() -> None:
    model = botocore.session.get_session().get_service_model("s3").operation_model("PutBucketNotificationConfiguration")
    configuration = {
        "LambdaFunctionConfigurations": [
            {
                "Id": "transform",
                "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:t",
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {
                    "Key": {"FilterRules": [{"Name": "prefix", "Value": "raw/"}, {"Name": "Suffix", "Value": ".json"}]}
                },
            }
        ],
        "QueueConfigurations": [
            {
                "QueueArn": "arn:aws:sqs:us-east-1:123456789012:q",
                "Events": ["s3:ObjectCreated:Put", "s3:ObjectCreated:Copy"],
            }
        ],
    }
    request = create_serializer("rest-xml").serialize_to_request(
        {"Bucket": "b", "NotificationConfiguration": configuration}, model
    )

    rules = parse_notification_xml(request["body"])

    assert rules == [
        NotificationRule(
            LAMBDA,
            "arn:aws:lambda:us-east-1:123456789012:function:t",
            ("s3:ObjectCreated:*",),
            "raw/",
            ".json",
            "transform",
        ),
        NotificationRule(
            QUEUE, "arn:aws:sqs:us-east-1:123456789012:q", ("s3:ObjectCreated:Put", "s3:ObjectCreated:Copy")
        ),
    ]


# -- resource policies (what lambda add_permission writes) ---------------------------------------------------------
def _statement(
    condition: dict | None = None, principal="s3.amazonaws.com", action="lambda:InvokeFunction", effect="Allow"
):
    statement = {"Effect": effect, "Principal": {"Service": principal}, "Action": action}
    return statement | ({"Condition": condition} if condition else {})


@pytest.mark.parametrize(
    ("statements", "allowed"),
    [
        ([_statement({"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bkt"}})], True),
        ([_statement({"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::other"}})], False),
        ([_statement({"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bk*"}})], True),
        (
            [
                _statement(
                    {
                        "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bkt"},
                        "StringEquals": {"AWS:SourceAccount": "123456789012"},
                    }
                )
            ],
            True,
        ),
        (
            [
                _statement(
                    {
                        "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bkt"},
                        "StringEquals": {"AWS:SourceAccount": "999999999999"},
                    }
                )
            ],
            False,
        ),
        (
            [_statement({"StringEquals": {"AWS:SourceAccount": "123456789012"}})],
            True,
        ),  # no SourceArn: any bucket of the account
        ([_statement(principal="events.amazonaws.com")], False),
        ([_statement(action="lambda:GetFunction")], False),
        ([_statement(), _statement(effect="Deny")], False),
        ([], False),
    ],
)
def test_policy_allows_s3_only_for_this_bucket(statements, allowed) -> None:
    policy = {"Statement": statements}
    assert policy_allows(policy, "lambda:InvokeFunction", "arn:aws:s3:::bkt", "123456789012") is allowed


# -- over HTTP, against a real localaws server -----------------------------------------------------------------


@pytest.fixture
def clients(localaws_env: str):
    return {name: boto3.client(name) for name in ("s3", "sqs", "lambda", "iam")} | {"endpoint": localaws_env}


def _name(kind: str) -> str:
    return f"s3ev-{kind}-{uuid.uuid4().hex[:10]}"


def _queue_for(clients, bucket: str) -> tuple[str, str]:
    """A queue whose policy lets S3 deliver from `bucket`: (url, arn)."""
    sqs = clients["sqs"]
    url = sqs.create_queue(QueueName=_name("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": arn,
        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
    }
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}
    )
    return url, arn


def _queue_rule(
    arn: str, events=("s3:ObjectCreated:*",), prefix: str | None = None, suffix: str | None = None, rule_id=None
):
    rules = [{"Name": n, "Value": v} for n, v in (("prefix", prefix), ("suffix", suffix)) if v is not None]
    rule = {"QueueArn": arn, "Events": list(events)}
    if rules:
        rule["Filter"] = {"Key": {"FilterRules": rules}}
    if rule_id:
        rule["Id"] = rule_id
    return rule


def _wait_idle(clients) -> None:
    with urllib.request.urlopen(f"{clients['endpoint']}/_localaws/idle?timeout=30") as response:
        assert json.load(response)["idle"]


def _records(clients, url: str) -> list[dict]:
    """Every S3 event record delivered to the queue so far (the s3:TestEvent S3 sends at configuration is skipped)."""
    _wait_idle(clients)
    records = []
    while True:
        messages = clients["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return records
        for message in messages:
            body = json.loads(message["Body"])
            records += body.get("Records", [])
            clients["sqs"].delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _bucket_with_queue(clients, **rule) -> tuple[str, str]:
    bucket = _name("b")
    clients["s3"].create_bucket(Bucket=bucket)
    url, arn = _queue_for(clients, bucket)
    configuration = {"QueueConfigurations": [_queue_rule(arn, **rule)]}
    clients["s3"].put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
    return bucket, url


@pytest.mark.localaws
def test_put_object_sends_one_event_in_aws_shape(clients) -> None:
    # CONTENT_DOC: every field of an event message, version 2.1
    bucket, url = _bucket_with_queue(clients, prefix="raw/", rule_id="raw-json")
    key = "raw/red flower+(1) café.json"

    put = clients["s3"].put_object(Bucket=bucket, Key=key, Body=b'{"a": 1}')

    [record] = _records(clients, url)
    headers = put["ResponseMetadata"]["HTTPHeaders"]
    assert record["eventVersion"] == "2.1"
    assert record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == "us-east-1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["eventTime"])
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["userIdentity"] == {"principalId": "AWS:test"}
    assert record["requestParameters"] == {"sourceIPAddress": "127.0.0.1"}
    assert record["responseElements"] == {
        "x-amz-request-id": headers["x-amz-request-id"],
        "x-amz-id-2": headers["x-amz-id-2"],
    }
    s3 = record["s3"]
    assert s3["s3SchemaVersion"] == "1.0"
    assert s3["configurationId"] == "raw-json"
    assert s3["bucket"]["name"] == bucket
    assert s3["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert re.fullmatch(r"A[0-9A-Z]+", s3["bucket"]["ownerIdentity"]["principalId"])
    assert s3["object"]["key"] == "raw/red+flower%2B%281%29+caf%C3%A9.json"
    assert unquote_plus(s3["object"]["key"]) == key
    assert s3["object"]["size"] == 8
    assert s3["object"]["eTag"] == put["ETag"].strip('"')
    assert "versionId" not in s3["object"]
    assert re.fullmatch(r"[0-9A-F]{18}", s3["object"]["sequencer"])


def _messages(clients, url: str) -> list[dict]:
    """Every message body in the queue, deleted as read."""
    _wait_idle(clients)
    bodies = []
    while messages := clients["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            clients["sqs"].delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


@pytest.mark.localaws
def test_queue_gets_one_test_event_then_exactly_one_message_per_object(clients) -> None:
    # CONTENT_DOC: "When you configure an event notification on a bucket, Amazon S3 sends the following test message"
    bucket, url = _bucket_with_queue(clients, prefix="raw/")
    [test_message] = _messages(clients, url)
    assert set(test_message) == {"Service", "Event", "Time", "Bucket", "RequestId", "HostId"}
    assert (test_message["Service"], test_message["Event"], test_message["Bucket"]) == (
        "Amazon S3",
        "s3:TestEvent",
        bucket,
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", test_message["Time"])

    clients["s3"].put_object(Bucket=bucket, Key="raw/a.json", Body=b"{}")

    # moto would send its own event too if localaws did not replace its sender: one message, one record
    [message] = _messages(clients, url)
    assert [r["s3"]["object"]["key"] for r in message["Records"]] == ["raw/a.json"]


@pytest.mark.localaws
def test_versioned_object_event_names_its_version(clients) -> None:
    bucket, url = _bucket_with_queue(clients)
    clients["s3"].put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    put = clients["s3"].put_object(Bucket=bucket, Key="a.json", Body=b"{}")

    [record] = _records(clients, url)
    assert record["s3"]["object"]["versionId"] == put["VersionId"]


@pytest.mark.localaws
def test_sequencer_orders_writes_to_one_key(clients) -> None:
    bucket, url = _bucket_with_queue(clients)
    for body in (b"1", b"22", b"333"):
        clients["s3"].put_object(Bucket=bucket, Key="same.json", Body=body)

    records = _records(clients, url)

    by_sequencer = sorted(records, key=lambda r: r["s3"]["object"]["sequencer"])
    assert [r["s3"]["object"]["size"] for r in by_sequencer] == [1, 2, 3]


REMOVED = ("s3:ObjectCreated:*", "s3:ObjectRemoved:*")


@pytest.mark.localaws
def test_delete_object_sends_object_removed_delete_without_etag_or_size(clients) -> None:
    # EVENT_TYPES_DOC: s3:ObjectRemoved:Delete for an unversioned object; delete events carry no eTag and no size
    # (aws-powertools/powertools-lambda-python#4156).
    bucket, url = _bucket_with_queue(clients, events=REMOVED, prefix="raw/", rule_id="raw-all")
    clients["s3"].put_object(Bucket=bucket, Key="raw/a b.json", Body=b"{}")
    clients["s3"].delete_object(Bucket=bucket, Key="raw/a b.json")

    created, removed = sorted(_records(clients, url), key=lambda r: r["s3"]["object"]["sequencer"])
    assert created["eventName"] == "ObjectCreated:Put"
    assert removed["eventName"] == "ObjectRemoved:Delete"
    assert removed["s3"]["configurationId"] == "raw-all"
    assert set(removed["s3"]["object"]) == {"key", "sequencer"}
    assert removed["s3"]["object"]["key"] == "raw/a+b.json"
    assert removed["userIdentity"] == {"principalId": "AWS:test"}


@pytest.mark.localaws
def test_delete_objects_sends_one_event_per_key(clients) -> None:
    bucket, url = _bucket_with_queue(clients, events=("s3:ObjectRemoved:*",))
    for key in ("x.json", "y.json"):
        clients["s3"].put_object(Bucket=bucket, Key=key, Body=b"{}")

    clients["s3"].delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x.json"}, {"Key": "y.json"}]})

    records = _records(clients, url)
    assert sorted((r["eventName"], r["s3"]["object"]["key"]) for r in records) == [
        ("ObjectRemoved:Delete", "x.json"),
        ("ObjectRemoved:Delete", "y.json"),
    ]
    assert len({r["s3"]["object"]["sequencer"] for r in records}) == 2


@pytest.mark.localaws
def test_versioned_delete_creates_a_delete_marker_event_and_a_version_delete_event(clients) -> None:
    # EVENT_TYPES_DOC: DeleteMarkerCreated when a delete marker is created for a versioned object; Delete when a
    # version is permanently deleted.
    bucket, url = _bucket_with_queue(clients, events=("s3:ObjectRemoved:*",))
    s3 = clients["s3"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="v.json", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v.json", Body=b"2")

    marker = s3.delete_object(Bucket=bucket, Key="v.json")
    s3.delete_object(Bucket=bucket, Key="v.json", VersionId=first)

    records = sorted(_records(clients, url), key=lambda r: r["s3"]["object"]["sequencer"])
    assert [(r["eventName"], r["s3"]["object"]["versionId"]) for r in records] == [
        ("ObjectRemoved:DeleteMarkerCreated", marker["VersionId"]),
        ("ObjectRemoved:Delete", first),
    ]


@pytest.mark.localaws
def test_sequencer_orders_puts_and_deletes_of_one_key(clients) -> None:
    # CONTENT_DOC: the sequencer orders PUTs and DELETEs of one key
    bucket, url = _bucket_with_queue(clients, events=REMOVED)
    s3 = clients["s3"]
    s3.put_object(Bucket=bucket, Key="k.json", Body=b"1")
    s3.delete_object(Bucket=bucket, Key="k.json")
    s3.put_object(Bucket=bucket, Key="k.json", Body=b"22")
    s3.delete_object(Bucket=bucket, Key="k.json")

    records = sorted(_records(clients, url), key=lambda r: r["s3"]["object"]["sequencer"].rjust(32, "0"))
    assert [r["eventName"].split(":")[0] for r in records] == ["ObjectCreated", "ObjectRemoved"] * 2
    assert [r["s3"]["object"].get("size") for r in records] == [1, None, 2, None]


@pytest.mark.localaws
def test_multipart_upload_sends_exactly_one_complete_event(clients) -> None:
    # moto alone sends ObjectCreated:Put and ObjectCreated:CompleteMultipartUpload; S3 sends only the latter.
    bucket, url = _bucket_with_queue(clients)
    s3 = clients["s3"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big.bin")["UploadId"]
    parts = []
    for number, body in ((1, b"x" * 5 * 1024 * 1024), (2, b"tail")):
        etag = s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=upload, PartNumber=number, Body=body)["ETag"]
        parts.append({"ETag": etag, "PartNumber": number})

    done = s3.complete_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=upload, MultipartUpload={"Parts": parts})

    [record] = _records(clients, url)
    assert record["eventName"] == "ObjectCreated:CompleteMultipartUpload"
    assert record["s3"]["object"]["size"] == 5 * 1024 * 1024 + 4
    assert record["s3"]["object"]["eTag"] == done["ETag"].strip('"')


@pytest.mark.localaws
def test_copy_sends_one_copy_event(clients) -> None:
    bucket, url = _bucket_with_queue(clients, prefix="copies/")
    clients["s3"].put_object(Bucket=bucket, Key="source.json", Body=b"{}")

    clients["s3"].copy_object(
        Bucket=bucket, Key="copies/target.json", CopySource={"Bucket": bucket, "Key": "source.json"}
    )

    [record] = _records(clients, url)
    assert record["eventName"] == "ObjectCreated:Copy"
    assert record["s3"]["object"]["key"] == "copies/target.json"


@pytest.mark.localaws
def test_each_object_goes_to_the_rules_whose_filters_match(clients) -> None:
    # FILTER_DOC: prefix and suffix rules, several configurations on one bucket
    s3 = clients["s3"]
    bucket = _name("b")
    s3.create_bucket(Bucket=bucket)
    raw_url, raw_arn = _queue_for(clients, bucket)
    processed_url, processed_arn = _queue_for(clients, bucket)
    copies_url, copies_arn = _queue_for(clients, bucket)
    configuration = {
        "QueueConfigurations": [
            _queue_rule(raw_arn, prefix="raw/", suffix=".json"),
            _queue_rule(processed_arn, prefix="processed/", suffix=".parquet"),
            _queue_rule(copies_arn, events=("s3:ObjectCreated:Copy",), prefix="copies/"),
        ]
    }
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)

    for key in (
        "raw/a.json",
        "raw/a.txt",
        "processed/t/dt=2024-01-01/p.parquet",
        "elsewhere/b.json",
        "copies/put.json",
    ):
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    s3.copy_object(Bucket=bucket, Key="copies/c.json", CopySource={"Bucket": bucket, "Key": "raw/a.json"})

    def keys(url):
        return sorted(unquote_plus(r["s3"]["object"]["key"]) for r in _records(clients, url))

    assert keys(raw_url) == ["raw/a.json"]
    assert keys(processed_url) == ["processed/t/dt=2024-01-01/p.parquet"]
    assert keys(copies_url) == ["copies/c.json"]


@pytest.mark.localaws
@pytest.mark.slow
def test_concurrent_uploads_send_exactly_one_event_each(clients) -> None:
    from concurrent.futures import ThreadPoolExecutor

    bucket, url = _bucket_with_queue(clients, prefix="raw/")
    keys = [f"raw/part-{n:03d}.json" for n in range(200)]
    s3 = clients["s3"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=key.encode()), keys))

    records = _records(clients, url)
    assert sorted(r["s3"]["object"]["key"] for r in records) == keys
    assert len({r["s3"]["object"]["sequencer"] for r in records}) == len(keys)


# -- validation at PutBucketNotificationConfiguration (PUT_CONFIG_DOC, FILTER_DOC) ------------------------------
@pytest.fixture
def function_arn(clients) -> str:
    role = clients["iam"].create_role(
        RoleName=_name("role"), AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    allow_everything(clients["iam"], role["Role"]["RoleName"])
    import io
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "def handler(event, context):\n    return None\n")
    return clients["lambda"].create_function(
        FunctionName=_name("fn"),
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()},
    )["FunctionArn"]


def _allow_s3(clients, function_arn: str, **condition) -> None:
    clients["lambda"].add_permission(
        FunctionName=function_arn,
        StatementId=_name("sid"),
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        **condition,
    )


def _lambda_configuration(function_arn: str, *prefixes: str) -> dict:
    return {
        "LambdaFunctionConfigurations": [
            {
                "Id": f"rule-{n}",
                "LambdaFunctionArn": function_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": p}]}},
            }
            for n, p in enumerate(prefixes)
        ]
    }


def _put_configuration_error(clients, bucket: str, configuration: dict, status: int = 400) -> dict:
    with pytest.raises(ClientError) as raised:
        clients["s3"].put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    return raised.value.response["Error"]


@pytest.fixture
def bucket(clients) -> str:
    name = _name("b")
    clients["s3"].create_bucket(Bucket=name)
    return name


@pytest.mark.localaws
def test_accepts_a_function_that_allows_this_bucket(clients, bucket, function_arn) -> None:
    _allow_s3(clients, function_arn, SourceArn=f"arn:aws:s3:::{bucket}", SourceAccount="123456789012")

    clients["s3"].put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration=_lambda_configuration(function_arn, "raw/")
    )

    stored = clients["s3"].get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    assert [c["LambdaFunctionArn"] for c in stored] == [function_arn]


@pytest.mark.localaws
def test_refuses_a_function_that_does_not_exist(clients, bucket, function_arn) -> None:
    missing = function_arn.rsplit(":", 1)[0] + ":no-such-function"

    error = _put_configuration_error(clients, bucket, _lambda_configuration(missing, "raw/"))

    assert error["Code"] == "InvalidArgument"
    assert error["Message"] == UNABLE_TO_VALIDATE
    assert error["ArgumentName1"] == f"{missing}, rule-0"
    assert error["ArgumentValue1"] == f"Not authorized to invoke function [{missing}]"


@pytest.mark.localaws
@pytest.mark.parametrize(
    "condition",
    [
        None,  # no add_permission at all
        {"SourceArn": "arn:aws:s3:::some-other-bucket"},
        {"SourceAccount": "999999999999"},
    ],
    ids=["no-permission", "other-bucket", "other-account"],
)
def test_refuses_a_function_that_does_not_allow_this_bucket(clients, bucket, function_arn, condition) -> None:
    if condition is not None:
        _allow_s3(clients, function_arn, **condition)

    error = _put_configuration_error(clients, bucket, _lambda_configuration(function_arn, "raw/"))

    assert (error["Code"], error["Message"]) == ("InvalidArgument", UNABLE_TO_VALIDATE)
    assert error["ArgumentValue1"] == f"Not authorized to invoke function [{function_arn}]"
    assert "LambdaFunctionConfigurations" not in clients["s3"].get_bucket_notification_configuration(Bucket=bucket)


@pytest.mark.localaws
def test_refuses_a_queue_whose_policy_does_not_allow_s3(clients, bucket) -> None:
    url = clients["sqs"].create_queue(QueueName=_name("q"))["QueueUrl"]
    arn = clients["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    error = _put_configuration_error(clients, bucket, {"QueueConfigurations": [_queue_rule(arn)]})

    assert (error["Code"], error["Message"]) == ("InvalidArgument", UNABLE_TO_VALIDATE)
    assert (
        error["ArgumentValue1"]
        == "Permissions on the destination queue do not allow S3 to publish notifications from this bucket"
    )


@pytest.mark.localaws
@pytest.mark.parametrize("prefixes", [("", "raw/"), ("raw/", "raw/sub/"), ("raw/", "raw/")])
def test_refuses_overlapping_rules(clients, bucket, function_arn, prefixes) -> None:
    _allow_s3(clients, function_arn, SourceArn=f"arn:aws:s3:::{bucket}")

    error = _put_configuration_error(clients, bucket, _lambda_configuration(function_arn, *prefixes))

    assert (error["Code"], error["Message"]) == ("InvalidArgument", AMBIGUOUS)


@pytest.mark.localaws
def test_refuses_two_unfiltered_rules_sharing_an_event_type(clients, bucket, function_arn) -> None:
    # S3's answer as quoted in minio/minio#2472; the situation of hashicorp/terraform#14421
    _allow_s3(clients, function_arn, SourceArn=f"arn:aws:s3:::{bucket}")
    rule = {"LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:*"]}

    error = _put_configuration_error(clients, bucket, {"LambdaFunctionConfigurations": [rule, rule]})

    assert (error["Code"], error["Message"]) == ("InvalidArgument", SHARED_EVENT_TYPE)
    assert (error["ArgumentName"], error["ArgumentValue"]) == ("Event", "s3:ObjectCreated:*, s3:ObjectCreated:*")


@pytest.mark.localaws
def test_skip_destination_validation_stores_the_configuration(clients, bucket, function_arn) -> None:
    # PUT_CONFIG_DOC: SkipDestinationValidation
    configuration = _lambda_configuration(function_arn, "raw/")

    clients["s3"].put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration=configuration, SkipDestinationValidation=True
    )

    assert clients["s3"].get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]


@pytest.mark.localaws
def test_unknown_bucket_is_no_such_bucket(clients, function_arn) -> None:
    error = _put_configuration_error(clients, _name("missing"), _lambda_configuration(function_arn, "raw/"), 404)

    assert error["Code"] == "NoSuchBucket"


@pytest.mark.localaws
def test_accepts_disjoint_rules_for_one_function(clients, bucket, function_arn) -> None:
    # The pipeline's own shape: raw/ -> transform and processed/ -> crawler trigger share no prefix.
    _allow_s3(clients, function_arn, SourceArn=f"arn:aws:s3:::{bucket}")

    clients["s3"].put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration=_lambda_configuration(function_arn, "raw/", "processed/")
    )

    assert len(clients["s3"].get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]) == 2


# -- end to end: S3 -> Lambda, through the Lambda runtime part ------------------------------------------------------
RECORDING_HANDLER = """
import json
import os

import boto3


def handler(event, context):
    key = "received/" + context.aws_request_id + ".json"
    boto3.client("s3").put_object(Bucket=os.environ["RECORD_BUCKET"], Key=key, Body=json.dumps(event).encode())
"""


def recording_function(clients, record_bucket: str) -> str:
    """A function (RECORDING_HANDLER) that writes every event it receives to `record_bucket`; its ARN, once Active."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("recorder.py", RECORDING_HANDLER)
    role = clients["iam"].create_role(
        RoleName=_name("role"), AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    allow_everything(clients["iam"], role["Role"]["RoleName"])
    arn = clients["lambda"].create_function(
        FunctionName=_name("recorder"),
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="recorder.handler",
        Code={"ZipFile": archive.getvalue()},
        Environment={"Variables": {"RECORD_BUCKET": record_bucket}},
    )["FunctionArn"]
    clients["lambda"].get_waiter("function_active_v2").wait(FunctionName=arn)
    return arn


@pytest.mark.localaws
def test_object_creation_invokes_the_function_with_the_event(clients, bucket) -> None:
    record_bucket = _name("rec")
    clients["s3"].create_bucket(Bucket=record_bucket)
    function_arn = recording_function(clients, record_bucket)
    _allow_s3(clients, function_arn, SourceArn=f"arn:aws:s3:::{bucket}")
    configuration = {
        "LambdaFunctionConfigurations": [
            {
                "Id": "raw",
                "LambdaFunctionArn": function_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "raw/"}]}},
            }
        ]
    }
    clients["s3"].put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)

    clients["s3"].put_object(Bucket=bucket, Key="raw/a b.json", Body=b"{}")
    clients["s3"].put_object(Bucket=bucket, Key="ignored/c.json", Body=b"{}")
    _wait_idle(clients)

    listed = clients["s3"].list_objects_v2(Bucket=record_bucket).get("Contents", [])
    assert len(listed) == 1
    event = json.loads(clients["s3"].get_object(Bucket=record_bucket, Key=listed[0]["Key"])["Body"].read())
    [record] = event["Records"]
    assert (record["eventName"], record["s3"]["object"]["key"], record["s3"]["configurationId"]) == (
        "ObjectCreated:Put",
        "raw/a+b.json",
        "raw",
    )
