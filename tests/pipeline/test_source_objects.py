"""Source-object semantics as pure logic: sequencer order, the decision per event, and the manifest protocol.

The store and the worker here are in-memory implementations of the two protocols (a dict of manifests with tokens,
a dict standing for the output bucket); the code under test is `apply_event` itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.source_objects import (
    COMPLETE,
    WRITING,
    Decision,
    Manifest,
    ManifestConflict,
    ObjectVersion,
    Prepared,
    SourceEvent,
    apply_event,
    compare_sequencers,
    decide,
    manifest_key,
)

CONTENT_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html"


# -- sequencers (CONTENT_DOC: pad the shorter with zeros, then compare lexicographically) ---------------------------
@pytest.mark.parametrize(
    ("a", "b", "order"),
    [
        ("0055AED6DCD90281E5", "0055AED6DCD90281E6", -1),
        ("0055AED6DCD90281E6", "0055AED6DCD90281E5", 1),
        ("0A", "00000A", 0),  # lengths differ, same value
        ("FF", "0100", -1),  # a plain string comparison would call "FF" newer
        ("0100", "FF", 1),
        ("0a1", "0A1", 0),  # hex digits in either case
    ],
)
def test_sequencers_compare_as_padded_hex(a: str, b: str, order: int) -> None:
    assert compare_sequencers(a, b) == order


def test_removal_event_without_etag_or_size_is_read() -> None:
    # Delete events carry no eTag and no size (aws-powertools/powertools-lambda-python#4156).
    record = {
        "eventName": "ObjectRemoved:Delete",
        "eventTime": "2026-11-26T17:05:33.123Z",
        "s3": {"bucket": {"name": "b"}, "object": {"key": "raw/a+b%2Bc.json", "sequencer": "0A"}},
    }
    event = SourceEvent.from_record(record)
    assert (event.key, event.removed, event.etag, event.sequencer) == ("raw/a b+c.json", True, "", "0A")


def test_manifest_key_is_readable_and_bounded() -> None:
    assert manifest_key("raw/orders/x.json") == "manifests/raw/orders/x.json.json"
    long_key = "raw/" + "é" * 600
    assert manifest_key(long_key) == (f"manifests/_sha256/{hashlib.sha256(long_key.encode()).hexdigest()}.json")


def test_manifest_round_trips_through_json() -> None:
    manifest = Manifest("raw/x.json", "0A", WRITING, ObjectVersion("e", "v"), ("processed/a",), ("processed/b",))
    assert Manifest.from_json(manifest.to_json()) == manifest


# -- the decision --------------------------------------------------------------------------------------------------
def _manifest(sequencer: str, etag: str | None = "e1", state: str = COMPLETE) -> Manifest:
    return Manifest("raw/k.json", sequencer, state, None if etag is None else ObjectVersion(etag), ("processed/p",))


def _event(sequencer: str, etag: str = "e1", removed: bool = False) -> SourceEvent:
    name = "ObjectRemoved:Delete" if removed else "ObjectCreated:Put"
    return SourceEvent("b", "raw/k.json", name, sequencer, "2026-11-26T00:00:00.000Z", "" if removed else etag)


@pytest.mark.parametrize(
    ("manifest", "event", "decision"),
    [
        (None, _event("01"), Decision.APPLY),
        (_manifest("05"), _event("04", "e2"), Decision.STALE),  # older: never overwrites the newer version
        (_manifest("05"), _event("04", removed=True), Decision.STALE),  # an old delete does not remove new rows
        (_manifest("05"), _event("05"), Decision.DUPLICATE),  # a replay
        (_manifest("05", state=WRITING), _event("05"), Decision.APPLY),  # the retry of a crashed attempt
        (_manifest("05"), _event("06", "e1"), Decision.UNCHANGED),  # identical re-upload
        (_manifest("05", state=WRITING), _event("06", "e1"), Decision.APPLY),  # same bytes, but not finished
        (_manifest("05"), _event("06", "e2"), Decision.APPLY),  # a new version
        (_manifest("05"), _event("06", removed=True), Decision.APPLY),
        (_manifest("0000FF"), _event("0100", "e2"), Decision.APPLY),  # padded comparison
    ],
)
def test_decide(manifest, event, decision) -> None:
    assert decide(manifest, event) is decision


# -- the protocol --------------------------------------------------------------------------------------------------
class MemoryManifests:
    """Manifests with content-hash tokens; `before_save` lets a test act between a read and a write."""

    def __init__(self) -> None:
        self.stored: dict[str, bytes] = {}
        self.before_save = None
        self.after_save = None

    def load(self, source_key: str):
        raw = self.stored.get(source_key)
        return (Manifest.from_json(raw), hashlib.md5(raw).hexdigest()) if raw else (None, None)

    def save(self, manifest: Manifest, token: str | None) -> str:
        if self.before_save is not None:
            hook, self.before_save = self.before_save, None
            hook()
        current = self.stored.get(manifest.source_key)
        if (hashlib.md5(current).hexdigest() if current else None) != token:
            raise ManifestConflict(manifest.source_key)
        self.stored[manifest.source_key] = manifest.to_json()
        token = hashlib.md5(self.stored[manifest.source_key]).hexdigest()
        if self.after_save is not None:
            hook, self.after_save = self.after_save, None
            hook()
        return token


class MemoryWorker:
    """The raw key's current object (`raw`: bytes or None) and the output bucket (`bucket`: key -> bytes).

    A version's outputs: one parent file in the partition of its event day and one child file, named by its ETag and
    the event's sequencer as the Lambda names them; a body starting with b"bad" is quarantined instead, at the one
    quarantine path the key has whatever its version."""

    def __init__(self) -> None:
        self.raw: bytes | None = None
        self.bucket: dict[str, bytes] = {}
        self.built = 0
        self.fail_publish = False
        self.on_publish = None

    def prepare(self, event: SourceEvent, known: ObjectVersion | None) -> Prepared:
        if self.raw is None:
            return Prepared(source=None, status="removed")
        etag = hashlib.md5(self.raw).hexdigest()
        if known is not None and known.etag == etag:
            return Prepared(ObjectVersion(etag), same_as_known=True)
        self.built += 1
        if self.raw.startswith(b"bad"):
            files = {"quarantine/t/k.json": self.raw}
            return Prepared(ObjectVersion(etag), tuple(files), "quarantined", work=files)
        day, name = event.event_time[:10], f"{etag[:8]}_{event.sequencer}"
        files = {f"processed/t/dt={day}/{name}.parquet": self.raw, f"processed/t_items/dt={day}/{name}.parquet": b""}
        return Prepared(ObjectVersion(etag), tuple(files), work=files)

    def publish(self, prepared: Prepared) -> None:
        if self.fail_publish:
            raise TimeoutError("killed while uploading")
        if self.on_publish is not None:
            hook, self.on_publish = self.on_publish, None
            hook()
        self.bucket.update(prepared.work or {})
        return True

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.bucket.pop(key, None)

    def discard(self, prepared: Prepared) -> None:
        pass


@pytest.fixture
def world() -> tuple[MemoryManifests, MemoryWorker]:
    return MemoryManifests(), MemoryWorker()


def upload(world, body: bytes | None, sequencer: str, day: str = "2026-11-26") -> SourceEvent:
    """Writes (or, with None, deletes) the raw object and returns the event S3 would send."""
    _, worker = world
    worker.raw = body
    if body is None:
        return SourceEvent("b", "raw/k.json", "ObjectRemoved:Delete", sequencer, f"{day}T10:00:00.000Z")
    etag = hashlib.md5(body).hexdigest()
    return SourceEvent("b", "raw/k.json", "ObjectCreated:Put", sequencer, f"{day}T10:00:00.000Z", etag)


def run(world, event: SourceEvent) -> str:
    store, worker = world
    return apply_event(event, store, worker).status


def outputs(world) -> dict[str, bytes]:
    return dict(world[1].bucket)


def test_new_version_replaces_every_output_even_in_another_partition(world) -> None:
    assert run(world, upload(world, b"v1", "01", day="2026-11-25")) == "processed"
    first = outputs(world)
    assert len(first) == 2 and all("dt=2026-11-25" in key for key in first)
    assert run(world, upload(world, b"v2", "02", day="2026-11-26")) == "processed"
    second = outputs(world)
    assert len(second) == 2 and all("dt=2026-11-26" in key for key in second)
    assert b"v2" in second.values() and b"v1" not in second.values()
    manifest, _ = world[0].load("raw/k.json")
    assert (manifest.state, manifest.obsolete, set(manifest.outputs)) == (COMPLETE, (), set(second))


def test_identical_reupload_changes_nothing_but_the_sequencer(world) -> None:
    run(world, upload(world, b"v1", "01"))
    before = outputs(world)
    assert run(world, upload(world, b"v1", "02")) == "unchanged"
    assert outputs(world) == before and world[1].built == 1
    assert world[0].load("raw/k.json")[0].sequencer == "02"


def test_delete_removes_the_outputs_and_a_late_create_event_does_not_revive_them(world) -> None:
    created = upload(world, b"v1", "01")
    removed = upload(world, None, "02")
    assert run(world, removed) == "removed"  # the delete's event arrives first
    assert run(world, created) == "stale"
    assert outputs(world) == {}
    run(world, upload(world, b"v1", "03"))
    assert run(world, upload(world, None, "04")) == "removed"
    assert outputs(world) == {}


def test_stale_event_never_overwrites_the_newer_version(world) -> None:
    old = upload(world, b"v1", "01")
    run(world, upload(world, b"v2", "02"))
    newer = outputs(world)
    assert run(world, old) == "stale"
    assert outputs(world) == newer


def test_replayed_event_gives_no_doubles(world) -> None:
    event = upload(world, b"v1", "01")
    run(world, event)
    first = outputs(world)
    assert run(world, event) == "duplicate"
    assert outputs(world) == first and world[1].built == 1


def test_older_event_that_finds_the_newer_object_leaves_the_newer_event_nothing_to_do(world) -> None:
    old = upload(world, b"v1", "01")
    new = upload(world, b"v2", "02")  # written before the first event was handled
    assert run(world, old) == "processed"  # it reads the key as it is now: v2
    assert run(world, new) == "unchanged"
    assert list(outputs(world).values()).count(b"v2") == 1


def test_a_crash_while_publishing_is_finished_by_the_retry(world) -> None:
    run(world, upload(world, b"v1", "01"))
    event = upload(world, b"v2", "02")
    world[1].fail_publish = True
    with pytest.raises(TimeoutError):
        run(world, event)
    assert world[0].load("raw/k.json")[0].state == WRITING  # v1's outputs are listed as obsolete, not forgotten
    world[1].fail_publish = False
    assert run(world, event) == "processed"  # Lambda's retry of the same event
    assert sorted(outputs(world).values()) == [b"", b"v2"]


def test_a_crash_while_publishing_is_finished_by_a_newer_event(world) -> None:
    run(world, upload(world, b"v1", "01"))
    world[1].fail_publish = True
    with pytest.raises(TimeoutError):
        run(world, upload(world, b"v2", "02"))
    world[1].fail_publish = False
    assert run(world, upload(world, None, "03")) == "removed"
    assert outputs(world) == {}


def test_newer_event_taking_over_during_publish_leaves_only_its_outputs(world) -> None:
    store, worker = world
    run(world, upload(world, b"v1", "01"))
    slow = upload(world, b"v2", "02")

    def newer_version_lands_meanwhile() -> None:
        run(world, upload(world, b"v3", "03"))

    worker.on_publish = newer_version_lands_meanwhile
    assert apply_event(slow, store, worker).status == "superseded"
    assert sorted(outputs(world).values()) == [b"", b"v3"]
    assert store.load("raw/k.json")[0].sequencer == "03"


def test_a_first_version_overtaken_during_publish_leaves_only_the_newer_outputs(world) -> None:
    """Nothing obsolete: no read of the manifest after publishing, and the conditional "complete" write still finds
    the newer owner."""
    store, worker = world
    slow = upload(world, b"v1", "01")

    def newer_version_lands_meanwhile() -> None:
        run(world, upload(world, b"v2", "02"))

    worker.on_publish = newer_version_lands_meanwhile
    assert apply_event(slow, store, worker).status == "superseded"
    assert sorted(outputs(world).values()) == [b"", b"v2"]
    manifest = store.load("raw/k.json")[0]
    assert (manifest.sequencer, manifest.state, sorted(manifest.outputs)) == ("02", COMPLETE, sorted(outputs(world)))


def test_a_new_key_reads_its_manifest_once(world, monkeypatch) -> None:
    store, _worker = world
    loads = []
    load = store.load
    monkeypatch.setattr(store, "load", lambda key: loads.append(key) or load(key))
    assert run(world, upload(world, b"v1", "01")) == "processed"
    assert loads == ["raw/k.json"]  # then "writing" and "complete", each a conditional write
    assert run(world, upload(world, b"v2", "02")) == "processed"
    assert len(loads) == 3  # a new version: read, then read again before deleting the old outputs


def test_lost_manifest_race_is_re_decided(world) -> None:
    store, worker = world
    old = upload(world, b"v1", "01")
    store.before_save = lambda: run(world, upload(world, b"v2", "02"))  # v2 commits between our read and write
    worker.raw = b"v1"  # what the slow invocation read
    assert apply_event(old, store, worker).status == "stale"
    assert sorted(outputs(world).values()) == [b"", b"v2"]


def test_an_attempt_overtaken_before_it_publishes_writes_and_deletes_nothing(world) -> None:
    store, worker = world
    run(world, upload(world, b"bad v1", "01"))
    slow = upload(world, b"v2", "02")
    # v2's attempt has committed its manifest when v3 (bad again) is handled completely
    store.after_save = lambda: run(world, upload(world, b"bad v3", "03"))
    assert apply_event(slow, store, worker).status == "superseded"
    assert outputs(world) == {"quarantine/t/k.json": b"bad v3"}  # v3's record, not deleted as v1's leftover
    assert store.load("raw/k.json")[0].sequencer == "03"


# -- any order of delivery --------------------------------------------------------------------------------------------
BODIES = (b"v1", b"v2", b"bad v3", None)  # None: the raw object is deleted


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_after_every_event_is_delivered_in_any_order_and_any_number_of_times_the_outputs_are_the_latest_version(
    data,
) -> None:
    """S3 delivers each event at least once, in no guaranteed order, at any time after its write (CONTENT_DOC)."""
    world = (MemoryManifests(), MemoryWorker())
    writes = data.draw(st.lists(st.sampled_from(BODIES), min_size=1, max_size=6), label="writes")
    pending: list[SourceEvent] = []
    delivered: list[SourceEvent] = []
    written = 0
    while written < len(writes) or pending:
        deliver = pending and (written == len(writes) or data.draw(st.booleans(), label="deliver now"))
        if not deliver:
            day = f"2026-11-{10 + written:02d}"
            pending.append(upload(world, writes[written], f"{written + 1:02X}", day=day))
            written += 1
            continue
        event = pending[data.draw(st.integers(0, len(pending) - 1), label="which event")]
        if delivered.count(event) >= 2 or not data.draw(st.booleans(), label="delivered again later"):
            pending.remove(event)
        run(world, event)
        delivered.append(event)

    final = writes[-1]
    if final is None:
        assert outputs(world) == {}
    elif final.startswith(b"bad"):
        assert outputs(world) == {"quarantine/t/k.json": final}
    else:
        assert sorted(outputs(world).values()) == [b"", final]
    manifest, _ = world[0].load("raw/k.json")
    assert manifest.state == COMPLETE and manifest.sequencer == f"{len(writes):02X}"


def test_an_attempt_whose_source_changed_before_it_published_leaves_the_key_to_the_newer_event(world) -> None:
    store, worker = world
    run(world, upload(world, b"v1", "01"))
    slow = upload(world, b"bad v2", "02")
    worker.publish = lambda prepared: False  # the raw key already holds a newer version: the copy was refused
    assert apply_event(slow, store, worker).status == "superseded"
    manifest = store.load("raw/k.json")[0]
    assert (manifest.state, manifest.sequencer) == (WRITING, "02")  # v1's outputs are still listed as obsolete
    del worker.publish
    assert run(world, upload(world, b"v3", "03")) == "processed"
    assert sorted(outputs(world).values()) == [b"", b"v3"]
