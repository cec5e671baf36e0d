"""Transform Lambda (S3 ObjectCreated and ObjectRemoved under raw/): a thin adapter that streams each object through
the core and keeps each source key's outputs in line with its latest version (pipeline/source_objects.py).

For every record of the event:
1. URL-decode the key (S3 sends `a+b.json` for "a b.json"); skip keys outside raw/ (we never write there) and folder
   placeholders (keys ending with "/", which the S3 console's "Create folder" writes);
2. dataset = first folder under raw/ made Athena-safe and claimed in its schema record (a file directly under raw/ ->
   ETL_DEFAULT_DATASET); a folder that is not its dataset's name logs the mapping (naming.py, schema.claim_dataset);
3. apply_event: an event older than the key's manifest (manifests/<key>.json) or already applied changes nothing; an
   identical re-upload only moves the manifest's sequencer; otherwise the key's current object is read (gone -> no
   outputs) and streamed into transform_stream, which merges the schema records under schemas/ with conditional
   writes; each Parquet file is written locally first (a crash leaves no partial object) and goes to
   processed/<dataset>/dt=<date>/<stem>_<event time>_<hash of key+ETag+version+sequencer>.parquet, so a replayed
   event rewrites the same keys. Child datasets are uploaded first and the top-level dataset last, so a reader never
   sees a source object's parent rows without their child rows; a failed upload deletes what this attempt uploaded
   (`upload_outputs`; docs/transform.md, "All or nothing per source object");
4. bad input -> copy to quarantine/<dataset>/<rest of key> plus `<name>.error.json`, written last; the record counts
   as handled;
5. the manifest lists the new outputs; the previous version's outputs are deleted, whatever their dt partition.
Any other error (throttling, 5xx, access) propagates so Lambda retries and the on-failure destination takes over.
Scratch folders are removed on every exit path, and those of killed attempts at the next invocation (scratch.py).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline import config, naming
from pipeline.formats import InputFormatError
from pipeline.schema import ReadOnceSchemaStore, SchemaConflict, claim_dataset, record_bytes
from pipeline.scratch import ScratchDir, remove_stale_scratch_dirs
from pipeline.sdk_features import check_conditional_writes
from pipeline.source_objects import (
    WRITE_ATTEMPTS,
    Manifest,
    ManifestConflict,
    ObjectVersion,
    Prepared,
    SourceEvent,
    apply_event,
    compare_sequencers,
    manifest_key,
)
from pipeline.transform import TransformResult, error_report, output_name, transform_stream, use_system_allocator

log = logging.getLogger(__name__)
# the Lambda process is ours alone: a process-wide allocator choice is the entry point's to make (see transform.py)
use_system_allocator()
_clients: dict[str, Any] = {}


def s3_client() -> Any:
    """Created on first use, so importing this module stays cheap (and tests can mock first)."""
    if "s3" not in _clients:
        import boto3
        import botocore

        client = boto3.client("s3")
        check_conditional_writes(client, botocore.__version__)  # a clear error on an old runtime SDK, once
        _clients["s3"] = client
    return _clients["s3"]


def get_object(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The GetObject response (Body, ETag, VersionId, ...) of the key's current object, or None if it has none."""
    try:
        return client.get_object(Bucket=bucket, Key=key)
    except client.exceptions.NoSuchKey:
        return None


def delete_object(client: Any, bucket: str, key: str) -> None:
    """Deleting a key that does not exist succeeds (204), so a repeated delete is harmless."""
    client.delete_object(Bucket=bucket, Key=key)


def put_object_from_file(client: Any, bucket: str, key: str, path: str, content_type: str) -> None:
    with open(path, "rb") as body:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def copy_object(client: Any, bucket: str, key: str, source_bucket: str, source_key: str, if_match: str) -> bool:
    """Copies the source only while it still has ETag `if_match`; False (nothing copied) when it changed or is gone.

    CopySourceIfMatch: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html. No VersionId in
    CopySource: that would need s3:GetObjectVersion."""
    try:
        client.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": source_bucket, "Key": source_key},
            CopySourceIfMatch=f'"{if_match}"',
        )
    except client.exceptions.NoSuchKey:
        return False
    except client.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") == "PreconditionFailed":
            return False
        raise
    return True


def put_report_unless_newer(client: Any, bucket: str, key: str, report: dict[str, Any]) -> bool:
    """Writes a quarantine report unless the one stored there has a newer `sequencer`; compare-and-swap with
    If-Match / If-None-Match, so a stale event never overwrites a newer version's report. False: a newer one stays."""
    body = (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    for _attempt in range(WRITE_ATTEMPTS):
        try:
            current = client.get_object(Bucket=bucket, Key=key)
        except client.exceptions.NoSuchKey:
            condition = {"IfNoneMatch": "*"}
        else:
            stored = json.loads(current["Body"].read()).get("sequencer") or ""
            if stored and report["sequencer"] and compare_sequencers(stored, report["sequencer"]) > 0:
                return False
            condition = {"IfMatch": current["ETag"]}
        try:
            client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **condition)
        except client.exceptions.ClientError as error:
            if _conflict(error):
                continue
            raise
        return True
    raise ManifestConflict(f"quarantine report {key!r} kept changing; gave up after {WRITE_ATTEMPTS} attempts")


def _conflict(error: Any) -> bool:
    """A conditional write lost: https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html"""
    return error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict")


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

    def save(self, dataset: str, record: dict[str, Any], token: str | None) -> str:
        """Returns the new ETag, the token of the next conditional write (PutObject's response carries it:
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html#API_PutObject_ResponseSyntax)."""
        # https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
        condition = {"IfMatch": token} if token else {"IfNoneMatch": "*"}
        try:
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=self._key(dataset),
                Body=record_bytes(record),
                ContentType="application/json",
                **condition,
            )
        except self.client.exceptions.ClientError as error:
            if _conflict(error):
                raise SchemaConflict(dataset) from error
            raise
        return response["ETag"]


class S3ManifestStore:
    """Source manifests at s3://<bucket>/manifests/<source key>.json, written only with If-Match / If-None-Match."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def load(self, source_key: str) -> tuple[Manifest | None, str | None]:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=manifest_key(source_key))
        except self.client.exceptions.NoSuchKey:
            return None, None
        return Manifest.from_json(response["Body"].read()), response["ETag"]

    def save(self, manifest: Manifest, token: str | None) -> str:
        condition = {"IfMatch": token} if token else {"IfNoneMatch": "*"}
        try:
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=manifest_key(manifest.source_key),
                Body=manifest.to_json(),
                ContentType="application/json",
                **condition,
            )
        except self.client.exceptions.ClientError as error:
            if _conflict(error):
                raise ManifestConflict(manifest.source_key) from error
            raise
        return response["ETag"]


def folder_of(key: str) -> tuple[str, str]:
    """(the dataset folder, the key's rest below it) for a key under raw/; a file right under raw/ has folder ''."""
    rest = key[len(config.RAW_PREFIX) :]
    folder, slash, below = rest.partition("/")
    return (folder, below) if slash else ("", rest)


def dataset_of(key: str, default: str) -> tuple[str, str]:
    """(the plain dataset name, the key's rest below the dataset folder) for a key under raw/; the dataset actually
    written is the one `claim_folder` gives the folder."""
    folder, rest = folder_of(key)
    return naming.dataset_name(folder or default), rest


def claim_folder(store: Any, key: str, default: str) -> tuple[str, str]:
    """(dataset, rest of the key) for a key under raw/, logging the folder -> dataset mapping when they differ."""
    folder, rest = folder_of(key)
    plain, _rest = dataset_of(key, default)
    dataset, holder = claim_dataset(store, folder, plain)
    if dataset != folder:
        note = {"key": key, "status": "named", "folder": folder, "dataset": dataset}
        if holder is not None:
            note["reason"] = f"dataset {plain!r} belongs to folder {holder!r}"
        elif folder != plain:
            note["reason"] = "folder name made Athena-safe and visible" if folder else "file directly under raw/"
        log.info(json.dumps(note, ensure_ascii=False))
    return dataset, rest


def _event_time(raw: str) -> datetime:
    if not raw:
        return datetime.now(UTC)
    return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class S3SourceWorker:
    """Reads a raw key's current object from S3, builds its outputs locally, publishes and deletes outputs."""

    client: Any
    event: SourceEvent
    dataset: str
    rest: str  # the key below its dataset folder
    out_bucket: str
    settings: config.Settings
    schema_store: ReadOnceSchemaStore  # this event's, which read the dataset's record when claiming it
    scratch: list[ScratchDir] = field(default_factory=list)  # closed by handle_record on every exit path

    def prepare(self, event: SourceEvent, known: ObjectVersion | None) -> Prepared:
        response = get_object(self.client, event.bucket, event.key)
        if response is None:
            return Prepared(source=None, status="removed")
        source = ObjectVersion(response["ETag"].strip('"'), response.get("VersionId") or "")
        body = response["Body"]
        if known is not None and known.etag == source.etag:
            body.close()
            return Prepared(source=source, same_as_known=True)
        event_time = _event_time(event.event_time)
        name = output_name(event.key, event_time, source.etag, source.version_id, event.sequencer)
        scratch = ScratchDir(self.settings.tmp_dir or None, "out-")
        self.scratch.append(scratch)
        work_dir = os.path.join(scratch.path, "out")  # the spill beside it: one scratch folder per event
        try:
            result = transform_stream(
                body,
                dataset=self.dataset,
                name=name,
                source_key=event.key,
                schema_store=self.schema_store,
                work_dir=work_dir,
                settings=self.settings,
                spill_dir=os.path.join(scratch.path, "spill"),
            )
        except InputFormatError as error:
            scratch.close()
            target = f"{config.QUARANTINE_PREFIX}{self.dataset}/{self.rest}"
            report = error_report(error, source_key=event.key, dataset=self.dataset, event_time=event_time.isoformat())
            report["sequencer"] = event.sequencer
            summary = {"quarantine_key": target, **error.as_dict()}
            work = _Quarantine(target, report)
            return Prepared(source, (target, f"{target}.error.json"), "quarantined", summary, work=work)
        except BaseException:
            scratch.close()
            raise
        finally:
            body.close()
        summary = result.summary()
        summary["outputs"] = [config.PROCESSED_PREFIX + output for output in summary["outputs"]]
        outputs = tuple(config.PROCESSED_PREFIX + output.key for output in result.outputs)
        return Prepared(source, outputs, "processed", summary, work=_Built(scratch, result))

    def publish(self, prepared: Prepared) -> bool:
        if isinstance(prepared.work, _Built):
            upload_outputs(self.client, self.out_bucket, prepared.work.result)
        elif isinstance(prepared.work, _Quarantine) and prepared.source is not None:
            # The quarantine path is shared by every version of the key: the copy happens only while the raw key
            # still holds the version we read, and the report only if no newer version's report is there. The
            # report is written last: a file is quarantined once its .error.json exists (what `make demo` lists).
            # A copy whose report failed stays (its key is shared with the key's other versions); the retry ends it.
            quarantine = prepared.work
            source = (self.event.bucket, self.event.key, prepared.source.etag)
            if not copy_object(self.client, self.out_bucket, quarantine.target, *source):
                return False
            report_key = f"{quarantine.target}.error.json"
            return put_report_unless_newer(self.client, self.out_bucket, report_key, quarantine.report)
        return True

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            delete_object(self.client, self.out_bucket, key)

    def discard(self, prepared: Prepared) -> None:
        if isinstance(prepared.work, _Built):
            prepared.work.scratch.close()


@dataclass(frozen=True)
class _Built:
    scratch: ScratchDir
    result: TransformResult


@dataclass(frozen=True)
class _Quarantine:
    target: str
    report: dict[str, Any]


def upload_outputs(client: Any, bucket: str, result: TransformResult) -> None:
    """Uploads every Parquet file of one transformed object under processed/.

    All or nothing for a reader: the deepest child dataset goes first and the top-level dataset last, so the parent
    file is the commit point and a reader never sees parent rows without their child rows, whatever step fails. If
    an upload fails, the files this attempt uploaded are deleted before the error propagates to Lambda's retries. A
    killed attempt cannot delete; its retry rewrites the same keys (they come from the event), so nothing doubles.
    (Obsolete outputs are deleted in the manifest's order, parents first: the same invariant on the way out.)
    """
    uploaded: list[str] = []
    done = False
    try:
        for output in reversed(result.outputs):  # transform_stream lists them parents first
            key = config.PROCESSED_PREFIX + output.key
            put_object_from_file(client, bucket, key, output.path, "application/vnd.apache.parquet")
            uploaded.append(key)
        done = True
    finally:
        if not done:
            _delete_quietly(client, bucket, uploaded)


def _delete_quietly(client: Any, bucket: str, keys: list[str]) -> None:
    """Best effort while another error propagates: a key left behind stays listed in the manifest (state writing),
    and the retry rewrites it."""
    from botocore.exceptions import BotoCoreError, ClientError

    for key in keys:
        try:
            delete_object(client, bucket, key)
        except (BotoCoreError, ClientError) as error:
            log.warning(json.dumps({"key": key, "status": "not removed", "reason": str(error)}))


def handle_record(record: dict[str, Any], settings: config.Settings, client: Any) -> dict[str, Any]:
    # The record exactly as S3 sent it (its key still URL-encoded): what a reader of the logs needs to debug P1/P13.
    log.info(json.dumps({"s3_event_record": record}, ensure_ascii=False))
    event = SourceEvent.from_record(record)
    key = event.key
    if not key.startswith(config.RAW_PREFIX):
        log.info(json.dumps({"key": key, "status": "skipped", "reason": f"outside {config.RAW_PREFIX}"}))
        return {"key": key, "status": "skipped"}
    if key.endswith("/"):
        # "Create folder" in the S3 console writes an empty object named like this: a folder, not a file to read
        log.info(json.dumps({"key": key, "status": "skipped", "reason": "a folder placeholder (key ends with /)"}))
        return {"key": key, "status": "skipped"}
    out_bucket = settings.bucket or event.bucket
    # one read of each schema record per event: the claim reads the dataset's, the transform merges into it
    schemas = ReadOnceSchemaStore(S3SchemaStore(client, out_bucket))
    dataset, rest = claim_folder(schemas, key, settings.default_dataset)
    worker = S3SourceWorker(client, event, dataset, rest, out_bucket, settings, schemas)
    try:
        outcome = apply_event(event, S3ManifestStore(client, out_bucket), worker)
    finally:
        for scratch in worker.scratch:  # whatever apply_event did not discard (an error between its steps)
            scratch.close()
    summary = {
        "key": key,
        "dataset": dataset,
        **outcome.summary,
        "status": outcome.status,
        "event": event.event_name,
        "sequencer": event.sequencer,
    }
    if outcome.deleted:
        summary["deleted"] = list(outcome.deleted)
    if outcome.status == "quarantined":
        log.warning(json.dumps(summary, ensure_ascii=False))
    else:
        log.info(json.dumps(summary, ensure_ascii=False))
    return summary


STATUSES = ("processed", "quarantined", "removed", "unchanged", "stale", "duplicate", "superseded", "skipped")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = config.Settings.from_env()
    logging.getLogger().setLevel(settings.log_level)
    remove_stale_scratch_dirs(settings.tmp_dir or None)  # a killed attempt in this sandbox could not remove its own
    client = s3_client()
    results = [handle_record(record, settings, client) for record in event.get("Records", [])]
    counts = {status: sum(r["status"] == status for r in results) for status in STATUSES}
    return {**counts, "records": results}
