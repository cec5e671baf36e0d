"""Notification rules: which events and keys each destination wants, and the overlap S3 refuses.

Pure functions. A rule is one Lambda, queue or topic configuration of a bucket's notification configuration.
- Matching: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html
- Event types and wildcards: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from itertools import combinations

LAMBDA, QUEUE, TOPIC = "lambda", "queue", "topic"

# The XML element names of each destination kind, as the S3 API serialises them (botocore's locationName).
_CONFIG_ELEMENTS = {
    "CloudFunctionConfiguration": (LAMBDA, "CloudFunction"),
    "QueueConfiguration": (QUEUE, "Queue"),
    "TopicConfiguration": (TOPIC, "Topic"),
}


@dataclass(frozen=True)
class NotificationRule:
    kind: str  # LAMBDA, QUEUE or TOPIC
    arn: str
    events: tuple[str, ...]  # as configured, e.g. ("s3:ObjectCreated:*",)
    prefix: str = ""
    suffix: str = ""
    id: str | None = None

    def wants_event(self, event_name: str) -> bool:
        """`event_name` as "s3:ObjectCreated:Put"; a configured "s3:ObjectCreated:*" covers every ObjectCreated."""
        return any(_event_covers(configured, event_name) for configured in self.events)

    def wants_key(self, key: str) -> bool:
        return key.startswith(self.prefix) and key.endswith(self.suffix)

    def matches(self, event_name: str, key: str) -> bool:
        return self.wants_event(event_name) and self.wants_key(key)


def _event_covers(configured: str, event_name: str) -> bool:
    if configured.endswith(":*"):
        return event_name.startswith(configured[:-1])
    return configured == event_name


def _events_overlap(a: str, b: str) -> bool:
    return _event_covers(a, b) or _event_covers(b, a)


def _filter_values(rules: list[tuple[str, str]]) -> tuple[str, str]:
    """(prefix, suffix) from FilterRule (Name, Value) pairs; S3 accepts the names in either case."""
    values = {name.lower(): value for name, value in rules}
    return values.get("prefix", ""), values.get("suffix", "")


def parse_notification_xml(body: bytes) -> list[NotificationRule]:
    """The rules in a PutBucketNotificationConfiguration request body (EventBridge is not a rule)."""
    root = ET.fromstring(body)
    rules = []
    for element in root:
        name = _local(element.tag)
        if name not in _CONFIG_ELEMENTS:
            continue
        kind, arn_element = _CONFIG_ELEMENTS[name]
        fields = {_local(child.tag): child for child in element}
        filter_rules = [
            (_text(rule, "Name"), _text(rule, "Value")) for rule in element.iter() if _local(rule.tag) == "FilterRule"
        ]
        prefix, suffix = _filter_values(filter_rules)
        rules.append(
            NotificationRule(
                kind=kind,
                arn=(fields[arn_element].text or "").strip() if arn_element in fields else "",
                events=tuple((child.text or "").strip() for child in element if _local(child.tag) == "Event"),
                prefix=prefix,
                suffix=suffix,
                id=fields["Id"].text if "Id" in fields else None,
            )
        )
    return rules


def rules_from_moto(configuration) -> list[NotificationRule]:
    """The rules of moto's stored NotificationConfiguration (moto.s3.models), or [] when there is none."""
    if configuration is None:
        return []
    rules = []
    for kind, notifications in (
        (LAMBDA, configuration.cloud_function),
        (QUEUE, configuration.queue),
        (TOPIC, configuration.topic),
    ):
        for notification in notifications:
            filter_rules = (notification.filters or {}).get("S3Key", {}).get("FilterRule", [])
            if isinstance(filter_rules, dict):
                filter_rules = [filter_rules]
            prefix, suffix = _filter_values([(rule["Name"], rule["Value"] or "") for rule in filter_rules])
            events = notification.events if isinstance(notification.events, list) else [notification.events]
            rules.append(NotificationRule(kind, notification.arn, tuple(events), prefix, suffix, notification.id))
    return rules


@dataclass(frozen=True)
class Overlap:
    first: NotificationRule
    second: NotificationRule
    events: tuple[str, str]  # the event types they share, as each rule names it

    @property
    def unfiltered(self) -> bool:
        """Neither rule filters keys: S3 calls this a shared event type rather than an ambiguous filter."""
        return not (self.first.prefix or self.first.suffix or self.second.prefix or self.second.suffix)


def find_overlap(rules: list[NotificationRule]) -> Overlap | None:
    """The first two rules that could both fire for one object, or None.

    Two rules overlap when they share an event type, their prefixes overlap (one is a prefix of the other; no prefix
    overlaps every prefix) and their suffixes overlap (one is a suffix of the other), whatever their destinations:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html
    """
    for a, b in combinations(rules, 2):
        prefixes_overlap = a.prefix.startswith(b.prefix) or b.prefix.startswith(a.prefix)
        suffixes_overlap = a.suffix.endswith(b.suffix) or b.suffix.endswith(a.suffix)
        if not (prefixes_overlap and suffixes_overlap):
            continue
        shared = next(((x, y) for x in a.events for y in b.events if _events_overlap(x, y)), None)
        if shared:
            return Overlap(a, b, shared)
    return None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _text(element: ET.Element, child_name: str) -> str:
    for child in element:
        if _local(child.tag) == child_name:
            return (child.text or "").strip()
    return ""
