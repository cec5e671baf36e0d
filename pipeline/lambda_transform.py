"""Transform Lambda (S3 ObjectCreated under raw/): a thin adapter that streams each object through the core.

For every record of the event:
1. URL-decode the key (S3 sends `a+b.json` for "a b.json"); skip keys outside raw/ (we never write there);
2. dataset = first folder under raw/ (a file directly under raw/ -> ETL_DEFAULT_DATASET);
3. stream the object into transform_stream, which merges the schema records under schemas/ with conditional writes;
4. upload each Parquet file once (written locally first, so a crash leaves no partial object) to
   processed/<dataset>/dt=<date>/<stem>_<event time>_<hash of key+ETag+version+sequencer>.parquet: a replayed event
   rewrites the same keys;
5. bad input -> copy to quarantine/<dataset>/<rest of key> plus `<name>.error.json`; the record counts as handled.
Any other error (throttling, 5xx, access) propagates so Lambda retries and the on-failure destination takes over.
"""

from __future__ import annotations

import json
import logging
import tempfile
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from pipeline import config, naming
from pipeline.formats import InputFormatError
from pipeline.schema import SchemaConflict, record_bytes
from pipeline.transform import error_report, output_name, transform_stream, use_system_allocator

log = logging.getLogger(__name__)
# the Lambda process is ours alone: a process-wide allocator choice is the entry point's to make (see transform.py)
use_system_allocator()
_clients: dict[str, Any] = {}


def s3_client() -> Any:
    """Created on first use, so importing this module stays cheap (and tests can mock first)."""
    if "s3" not in _clients:
        import boto3

        _clients["s3"] = boto3.client("s3")
    return _clients["s3"]


def get_object_body(client: Any, bucket: str, key: str) -> Any | None:
    """The object's StreamingBody, or None if it no longer exists."""
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"]
    except client.exceptions.NoSuchKey:
        return None


def put_object_from_file(client: Any, bucket: str, key: str, path: str, content_type: str) -> None:
    with open(path, "rb") as body:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def copy_object(client: Any, bucket: str, key: str, source_bucket: str, source_key: str) -> None:
    client.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": source_bucket, "Key": source_key})


class S3SchemaStore:
    """Schema records at s3://<bucket>/schemas/<dataset>.json, updated only with If-Match / If-None-Match."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def _key(self, dataset: str) -> str:
        return f"{config.SCHEMAS_PREFIX}{dataset}.json"

    def load(self, dataset: str) -> tuple[dict[str, Any] | None, str | None]:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(dataset))
        except self.client.exceptions.NoSuchKey:
            return None, None
        return json.loads(response["Body"].read()), response["ETag"]

    def save(self, dataset: str, record: dict[str, Any], token: str | None) -> None:
        # https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
        condition = {"IfMatch": token} if token else {"IfNoneMatch": "*"}
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._key(dataset),
                Body=record_bytes(record),
                ContentType="application/json",
                **condition,
            )
        except self.client.exceptions.ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise SchemaConflict(dataset) from error
            raise


def dataset_of(key: str, default: str) -> tuple[str, str]:
    """(dataset, the key's rest below the dataset folder) for a key under raw/."""
    rest = key[len(config.RAW_PREFIX) :]
    folder, slash, below = rest.partition("/")
    if not slash:
        return default, rest
    return naming.sanitize_dataset(folder), below


def _event_time(record: dict[str, Any]) -> datetime:
    raw = record.get("eventTime")
    if not raw:
        return datetime.now(UTC)
    return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)


def handle_record(record: dict[str, Any], settings: config.Settings, client: Any) -> dict[str, Any]:
    bucket = record["s3"]["bucket"]["name"]
    source = record["s3"]["object"]
    key = unquote_plus(source["key"])
    if not key.startswith(config.RAW_PREFIX):
        log.info(json.dumps({"key": key, "status": "skipped", "reason": f"outside {config.RAW_PREFIX}"}))
        return {"key": key, "status": "skipped"}
    dataset, rest = dataset_of(key, settings.default_dataset)
    out_bucket = settings.bucket or bucket
    event_time = _event_time(record)
    name = output_name(
        key, event_time, source.get("eTag", ""), source.get("versionId", ""), source.get("sequencer", "")
    )
    body = get_object_body(client, bucket, key)
    if body is None:
        log.info(json.dumps({"key": key, "status": "skipped", "reason": "object no longer exists"}))
        return {"key": key, "status": "skipped"}
    with tempfile.TemporaryDirectory(prefix="lambda-out-", dir=settings.tmp_dir or None) as work_dir:
        try:
            result = transform_stream(
                body,
                dataset=dataset,
                name=name,
                source_key=key,
                schema_store=S3SchemaStore(client, out_bucket),
                work_dir=work_dir,
                settings=settings,
            )
        except InputFormatError as error:
            return quarantine(client, bucket, key, out_bucket, dataset, rest, error, event_time)
        finally:
            body.close()
        for output in result.outputs:
            put_object_from_file(
                client, out_bucket, config.PROCESSED_PREFIX + output.key, output.path, "application/vnd.apache.parquet"
            )
    summary = {"status": "processed", **result.summary()}
    summary["outputs"] = [config.PROCESSED_PREFIX + output for output in summary["outputs"]]
    log.info(json.dumps(summary))
    return summary


def quarantine(
    client: Any,
    bucket: str,
    key: str,
    out_bucket: str,
    dataset: str,
    rest: str,
    error: InputFormatError,
    event_time: datetime,
) -> dict[str, Any]:
    target = f"{config.QUARANTINE_PREFIX}{dataset}/{rest}"
    copy_object(client, out_bucket, target, bucket, key)
    report = error_report(error, source_key=key, dataset=dataset, event_time=event_time.isoformat())
    client.put_object(
        Bucket=out_bucket,
        Key=f"{target}.error.json",
        Body=(json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
        ContentType="application/json",
    )
    summary = {"key": key, "status": "quarantined", "quarantine_key": target, **error.as_dict()}
    log.warning(json.dumps(summary))
    return summary


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = config.Settings.from_env()
    logging.getLogger().setLevel(settings.log_level)
    client = s3_client()
    results = [handle_record(record, settings, client) for record in event.get("Records", [])]
    counts = {status: sum(r["status"] == status for r in results) for status in ("processed", "quarantined", "skipped")}
    return {**counts, "records": results}
