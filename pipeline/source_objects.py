"""Source-object semantics: the rows that came from a raw object follow the latest version of its key.

- A new version replaces every output of the previous one (in every dataset it fed, whatever its `dt` partition).
- An identical re-upload (same ETag) changes nothing.
- Deleting the raw object (s3:ObjectRemoved:*) removes its outputs.
- A stale event (an older `sequencer` than the one already applied) changes nothing, and neither does a replay.

The record of what each source key produced is its *manifest*, `manifests/<source key>.json` (see `manifest_key`),
written only with S3 conditional writes (If-Match / If-None-Match), like the schema records. Every event runs
`apply_event`:

1. load the manifest; `decide` compares the event's sequencer with the one the manifest has applied;
2. make the outputs reflect the key's *current* state: read the object as it is now (gone -> no outputs), transform it
   locally (nothing visible yet);
3. commit the manifest in state "writing": the new outputs, and the outputs of earlier versions as `obsolete`;
   a lost race re-runs from 1, where the newer manifest now makes this event stale;
4. publish the new outputs, check the manifest is still ours and delete the obsolete ones (if there are any), and
   commit the manifest as "complete" (a conditional write, which fails if a newer event took the key over). If a
   newer event took it over, stop, and delete what this attempt wrote that the newer one does not list.
A crash anywhere leaves a manifest that the retry of the same event (same sequencer, "writing") or any newer event
completes: earlier outputs are listed until they are deleted, so none is ever left behind for good.

Processed outputs are named per version (a hash of the key, ETag, version id and sequencer), so versions never share
one. The quarantine copy and its report keep the key's one path, `quarantine/<dataset>/<rest>`: the copy is made
only while the raw key still holds the version read (CopySourceIfMatch), and the report is written only if the one
there has no newer sequencer (If-Match / If-None-Match), so a stale event never overwrites a newer record. What is
left: a delete may follow the ownership check by the time of one request.

Sequencers are compared as S3 documents: "If you compare the sequencer strings from two event notifications on the
same object key, the event notification with the greater sequencer hexadecimal value is the event that occurred
later ... first left pad the shorter value with zeros, and then do a lexicographical comparison."
https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html

Pure: no boto3. The Lambda adapts S3 to the `ManifestStore` and `SourceWorker` protocols (lambda_transform.py).
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import unquote_plus

from pipeline.config import MANIFESTS_PREFIX

MANIFEST_FORMAT = 1
MAX_KEY_BYTES = (
    1024  # S3's limit on an object key: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
)
WRITE_ATTEMPTS = 8  # conditional-write races on one manifest before giving up (then Lambda retries the event)
WRITING, COMPLETE = "writing", "complete"


def manifest_key(source_key: str) -> str:
    """`manifests/<source key>.json`; a key too long for that becomes `manifests/_sha256/<hex of the key>.json`."""
    readable = f"{MANIFESTS_PREFIX}{source_key}.json"
    if len(readable.encode("utf-8")) <= MAX_KEY_BYTES:
        return readable
    return f"{MANIFESTS_PREFIX}_sha256/{hashlib.sha256(source_key.encode('utf-8')).hexdigest()}.json"


def compare_sequencers(a: str, b: str) -> int:
    """-1, 0 or 1 as `a` is older than, the same as or newer than `b` (hex strings of any length and case)."""
    width = max(len(a), len(b))
    left, right = a.upper().rjust(width, "0"), b.upper().rjust(width, "0")
    return (left > right) - (left < right)


@dataclass(frozen=True)
class SourceEvent:
    """What one S3 event record says about a raw object."""

    bucket: str
    key: str  # URL-decoded
    event_name: str  # e.g. "ObjectCreated:Put", "ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated"
    sequencer: str  # "" when the record has none (a hand-made event): it is applied, but orders nothing
    event_time: str = ""
    etag: str = ""  # ObjectRemoved events carry no eTag and no size
    version_id: str = ""

    @property
    def removed(self) -> bool:
        return self.event_name.startswith("ObjectRemoved:")

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SourceEvent:
        """From one element of an S3 event's Records[] (the key arrives URL-encoded, "a+b" for "a b")."""
        s3 = record["s3"]
        obj = s3["object"]
        return cls(
            bucket=s3["bucket"]["name"],
            key=unquote_plus(obj["key"]),
            event_name=record.get("eventName", "ObjectCreated:Put").removeprefix("s3:"),
            sequencer=obj.get("sequencer") or "",
            event_time=record.get("eventTime") or "",
            etag=(obj.get("eTag") or "").strip('"'),
            version_id=obj.get("versionId") or "",
        )


@dataclass(frozen=True)
class ObjectVersion:
    """The object a manifest's outputs came from: its ETag and version id (None when the key has no object)."""

    etag: str
    version_id: str = ""


@dataclass(frozen=True)
class Manifest:
    source_key: str
    sequencer: str  # the newest event applied (or being applied) to this key
    state: str  # WRITING or COMPLETE
    source: ObjectVersion | None  # None: the key has no object (deleted, or never readable)
    outputs: tuple[str, ...] = ()  # bucket keys this version produced (processed/..., quarantine/...)
    obsolete: tuple[str, ...] = ()  # keys of earlier versions not yet deleted; empty once COMPLETE
    event_name: str = ""
    event_time: str = ""

    def to_json(self) -> bytes:
        body = {
            "format": MANIFEST_FORMAT,
            "source_key": self.source_key,
            "sequencer": self.sequencer,
            "state": self.state,
            "source": None if self.source is None else {"etag": self.source.etag, "version_id": self.source.version_id},
            "outputs": list(self.outputs),
            "obsolete": list(self.obsolete),
            "event_name": self.event_name,
            "event_time": self.event_time,
        }
        return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        body = json.loads(raw)
        source = body.get("source")
        return cls(
            source_key=body["source_key"],
            sequencer=body.get("sequencer", ""),
            state=body.get("state", COMPLETE),
            source=None if source is None else ObjectVersion(source["etag"], source.get("version_id", "")),
            outputs=tuple(body.get("outputs", ())),
            obsolete=tuple(body.get("obsolete", ())),
            event_name=body.get("event_name", ""),
            event_time=body.get("event_time", ""),
        )

    def leftovers(self) -> tuple[str, ...]:
        """Every key an earlier attempt may have written: its outputs and what it had still to delete."""
        return tuple(dict.fromkeys((*self.outputs, *self.obsolete)))


class Decision(enum.Enum):
    STALE = "stale"  # an older sequencer than the one applied: a newer version's outputs stay
    DUPLICATE = "duplicate"  # this very event was already applied completely (a replay)
    UNCHANGED = "unchanged"  # a newer event for the same bytes: only the manifest's sequencer moves
    APPLY = "apply"  # make the outputs reflect the key's current state


def decide(manifest: Manifest | None, event: SourceEvent) -> Decision:
    """What an event means for a key whose manifest is `manifest` (None: nothing recorded yet)."""
    if manifest is None:
        return Decision.APPLY
    order = compare_sequencers(event.sequencer, manifest.sequencer) if event.sequencer else 1
    if order < 0:
        return Decision.STALE
    if order == 0:
        return Decision.DUPLICATE if manifest.state == COMPLETE else Decision.APPLY  # resume a crashed attempt
    if not event.removed and event.etag and _is_complete_copy_of(manifest, event.etag):
        return Decision.UNCHANGED
    return Decision.APPLY


def _is_complete_copy_of(manifest: Manifest, etag: str) -> bool:
    return manifest.state == COMPLETE and manifest.source is not None and manifest.source.etag == etag


class ManifestConflict(RuntimeError):
    """The manifest changed between our read and our conditional write."""


class ManifestStore(Protocol):
    def load(self, source_key: str) -> tuple[Manifest | None, str | None]:
        """(manifest, token for the conditional write), or (None, None)."""
        ...

    def save(self, manifest: Manifest, token: str | None) -> str:
        """Writes only if the stored manifest still has `token` (None: only if there is none); returns the new token.
        Raises ManifestConflict otherwise."""
        ...


@dataclass
class Prepared:
    """One version's outputs, built locally and not yet visible."""

    source: ObjectVersion | None  # None: the key has no object now, so it has no outputs
    outputs: tuple[str, ...] = ()
    status: str = "processed"  # what the handler reports: processed, quarantined or removed
    summary: dict[str, Any] = field(default_factory=dict)
    same_as_known: bool = False  # the current object is the `known` one: nothing was built
    work: Any = None  # the worker's own state (local files, the quarantine report)


class SourceWorker(Protocol):
    def prepare(self, event: SourceEvent, known: ObjectVersion | None) -> Prepared:
        """Reads the key's current object (if any) and builds its outputs locally, unless its ETag is `known`'s
        (then it returns `Prepared(source, same_as_known=True)` without reading the body)."""
        ...

    def publish(self, prepared: Prepared) -> bool:
        """Makes the prepared outputs visible (uploads them). False: the source object or a shared output already
        belongs to a newer version, so this attempt stops (a newer event is sure to follow)."""
        ...

    def delete(self, keys: Iterable[str]) -> None:
        """Deletes these keys; a key that is already gone is not an error."""
        ...

    def discard(self, prepared: Prepared) -> None:
        """Frees what `prepare` built locally."""
        ...


@dataclass
class Outcome:
    status: str  # processed, quarantined, removed, unchanged, stale, duplicate, superseded
    manifest: Manifest | None
    summary: dict[str, Any] = field(default_factory=dict)
    deleted: tuple[str, ...] = ()


def apply_event(event: SourceEvent, store: ManifestStore, worker: SourceWorker) -> Outcome:
    """Brings the outputs of `event.key` in line with the key's newest state; see the module docstring."""
    for _attempt in range(WRITE_ATTEMPTS):
        manifest, token = store.load(event.key)
        decision = decide(manifest, event)
        if decision in (Decision.STALE, Decision.DUPLICATE):
            return Outcome(decision.value, manifest)
        if decision is Decision.UNCHANGED:
            assert manifest is not None
            moved = replace(manifest, sequencer=_newest(manifest.sequencer, event.sequencer))
            try:
                store.save(moved, token)
            except ManifestConflict:
                continue
            return Outcome("unchanged", moved)
        known = manifest.source if manifest is not None and manifest.state == COMPLETE else None
        prepared = worker.prepare(event, known)
        try:
            if manifest is not None and (prepared.same_as_known or _both_absent(manifest, prepared)):
                # e.g. a removal event while the key still holds this very object (a non-current version was deleted,
                # or the key was written again since): only the sequencer moves
                moved = replace(manifest, sequencer=_newest(manifest.sequencer, event.sequencer))
                store.save(moved, token)
                worker.discard(prepared)
                return Outcome("unchanged", moved)
            writing = Manifest(
                source_key=event.key,
                sequencer=_newest(manifest.sequencer if manifest else "", event.sequencer),
                state=WRITING,
                source=prepared.source,
                outputs=prepared.outputs,
                obsolete=tuple(k for k in (manifest.leftovers() if manifest else ()) if k not in prepared.outputs),
                event_name=event.event_name,
                event_time=event.event_time,
            )
            writing_token = store.save(writing, token)
        except ManifestConflict:
            worker.discard(prepared)
            continue
        try:
            published = worker.publish(prepared)
        finally:
            worker.discard(prepared)
        # Deleting comes only after checking the manifest is still ours: a newer event that took the key over owns
        # the outputs from then on, some of which (a quarantine path) may be keys our manifest calls obsolete. With
        # nothing to delete, the conditional write of "complete" below is that check (a newer owner fails it), so
        # the first version of a key costs one read of its manifest, not two.
        if published and not writing.obsolete:
            newer = None
        else:
            newer = _newer_owner(store, event.key, writing_token)
        if newer is None and not published:
            # A newer version is already in S3 and its event will take the manifest over (it lists ours as obsolete)
            return Outcome("superseded", writing, prepared.summary)
        if newer is None:
            worker.delete(writing.obsolete)
            complete = replace(writing, state=COMPLETE, obsolete=())
            try:
                store.save(complete, writing_token)
            except ManifestConflict:
                newer = store.load(event.key)
            else:
                return Outcome(prepared.status, complete, prepared.summary, deleted=writing.obsolete)
        # A newer event took the key over while we published; it deletes what our manifest listed, but may have done
        # so before our uploads landed: remove what we wrote that the newer version does not own.
        owner = newer[0]
        owned = set(owner.outputs) if owner else set()
        mine = tuple(key for key in prepared.outputs if key not in owned)
        worker.delete(mine)
        return Outcome("superseded", owner, prepared.summary, deleted=mine)
    raise ManifestConflict(f"manifest of {event.key!r} kept changing; gave up after {WRITE_ATTEMPTS} attempts")


def _newer_owner(store: ManifestStore, source_key: str, token: str) -> tuple[Manifest | None, str | None] | None:
    """None while the stored manifest is still the one we wrote (`token`), else what is stored now."""
    current = store.load(source_key)
    return None if current[1] == token else current


def _both_absent(manifest: Manifest, prepared: Prepared) -> bool:
    return manifest.state == COMPLETE and manifest.source is None and prepared.source is None


def _newest(a: str, b: str) -> str:
    if not a or not b:
        return a or b
    return a if compare_sequencers(a, b) >= 0 else b
