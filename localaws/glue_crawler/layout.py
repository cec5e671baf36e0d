"""Group crawled S3 objects into tables and partitions, as a Glue crawler does. Pure: no boto3, no I/O.

The rules, with the AWS documents they follow:
- Include path and exclusions: exclude patterns are globs relative to the include path; `*` stays within a folder,
  `**` crosses folders, `?` is one character, `[...]` a class, `{a,b}` alternatives
  (https://docs.aws.amazon.com/glue/latest/dg/define-crawler-choose-data-sources.html, formerly
  https://docs.aws.amazon.com/glue/latest/dg/define-crawler.html#crawler-data-stores-exclude).
  Folder markers (zero-byte keys ending in '/') and names starting with '_' or '.' (_SUCCESS, .crc) are skipped, as the
  Hadoop input formats Glue uses skip them.
- Table roots (https://docs.aws.amazon.com/glue/latest/dg/crawler-s3-folder-table-partition.html):
  * TableLevelConfiguration=N: the folder at absolute level N (the bucket is level 1) is the table root
    (https://docs.aws.amazon.com/glue/latest/dg/crawler-configuration.html, "table location and partitioning level").
  * TableGroupingPolicy=CombineCompatibleSchemas: one table per include path when the data is compatible; schema
    similarity is ignored (https://docs.aws.amazon.com/glue/latest/dg/crawler-grouping-policy.html).
  * Otherwise schema similarity decides, folder by folder from the include path down: when the majority (over 70 %) of
    the schemas at a folder level are similar and there are at most 5 distinct schema clusters, the folder is a table
    and its sub-folders are partitions; otherwise each sub-folder (and each loose file) is a table of its own.
- Partitions: each folder level below the table root is a partition key, named after `key=` in Hive-style folders and
  `partition_<level>` otherwise, typed `string` (the grouping-policy page shows `partitionKey year:string`).
- The table is named after its root folder (or file), lower-cased, other characters than [a-z0-9_] made '_', with the
  crawler's TablePrefix in front; a second table with the same name gets a short hash of its location appended.
- Columns: first-seen order over the table's files in key order; when files disagree on a type, the newest file wins.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache

SIMILARITY_THRESHOLD = 0.7  # "the partition threshold is higher than 0.7 (70%)"
MAX_SCHEMA_CLUSTERS = 5  # "the maximum number of different schemas ... doesn't exceed 5"

Columns = list[tuple[str, str]]


@dataclass(frozen=True)
class IncludePath:
    bucket: str
    prefix: str  # "" for the whole bucket, otherwise a folder prefix ending in "/"

    @classmethod
    def parse(cls, path: str) -> IncludePath:
        """s3://bucket/some/folder (with or without the trailing slash) -> IncludePath("bucket", "some/folder/")."""
        if not path.startswith("s3://"):
            raise ValueError(f"not an S3 include path: {path!r}")
        bucket, _, prefix = path.removeprefix("s3://").partition("/")
        prefix = prefix.strip("/")
        return cls(bucket, f"{prefix}/" if prefix else "")

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class CrawlerSettings:
    """The parts of a crawler's definition that shape its output."""

    table_level: int | None = None
    combine_compatible_schemas: bool = False
    partitions_inherit_from_table: bool = False
    merge_new_columns: bool = False
    update_behavior: str = "UPDATE_IN_DATABASE"
    delete_behavior: str = "DEPRECATE_IN_DATABASE"
    recrawl_behavior: str = "CRAWL_EVERYTHING"
    table_prefix: str = ""
    table_threshold: int | None = None

    @classmethod
    def from_crawler(cls, crawler: dict) -> CrawlerSettings:
        """From a GetCrawler `Crawler`; Configuration is the JSON string described in crawler-configuration.html."""
        config = json.loads(crawler.get("Configuration") or "{}")
        grouping = config.get("Grouping", {})
        output = config.get("CrawlerOutput", {})
        policy = crawler.get("SchemaChangePolicy") or {}
        level = grouping.get("TableLevelConfiguration")
        return cls(
            table_level=int(level) if level else None,
            combine_compatible_schemas=grouping.get("TableGroupingPolicy") == "CombineCompatibleSchemas",
            partitions_inherit_from_table=output.get("Partitions", {}).get("AddOrUpdateBehavior") == "InheritFromTable",
            merge_new_columns=output.get("Tables", {}).get("AddOrUpdateBehavior") == "MergeNewColumns",
            update_behavior=policy.get("UpdateBehavior") or "UPDATE_IN_DATABASE",
            delete_behavior=policy.get("DeleteBehavior") or "DEPRECATE_IN_DATABASE",
            recrawl_behavior=(crawler.get("RecrawlPolicy") or {}).get("RecrawlBehavior") or "CRAWL_EVERYTHING",
            table_prefix=crawler.get("TablePrefix") or "",
            table_threshold=output.get("Tables", {}).get("TableThreshold"),
        )


@dataclass(frozen=True)
class CrawledFile:
    key: str
    size: int
    last_modified: float  # epoch seconds; the newest file wins a type disagreement
    columns: tuple[tuple[str, str], ...]
    num_rows: int


@dataclass
class PartitionPlan:
    values: tuple[str, ...]
    location: str
    files: list[CrawledFile] = field(default_factory=list)


@dataclass
class TablePlan:
    name: str
    location: str
    columns: Columns
    partition_keys: list[str]
    partitions: list[PartitionPlan]
    files: list[CrawledFile]


def skip_reason(relative_key: str, size: int, exclusions: list[str]) -> str | None:
    """Why the crawler ignores an object under its include path, or None when it crawls it."""
    if relative_key.endswith("/") and size == 0:
        return "folder marker"
    if any(part.startswith(("_", ".")) for part in relative_key.split("/")):
        return "hidden or marker name"
    for pattern in exclusions:
        if is_excluded(relative_key, pattern):
            return f"excluded by {pattern!r}"
    return None


def is_excluded(relative_key: str, pattern: str) -> bool:
    """Glue's glob semantics; a pattern that matches a folder excludes everything below it."""
    regex = _glob_regex(pattern)
    if regex.fullmatch(relative_key):
        return True
    parts = relative_key.split("/")
    return any(regex.fullmatch("/".join(parts[:depth])) for depth in range(1, len(parts)))


@cache
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, index, in_group = [], 0, False
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1 : end]
                body = "^" + body[1:] if body.startswith("!") else body
                out.append(f"[{body}]")
                index = end
        elif char == "{":
            out.append("(?:")
            in_group = True
        elif char == "}" and in_group:
            out.append(")")
            in_group = False
        elif char == "," and in_group:
            out.append("|")
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out))


def plan_tables(include: IncludePath, files: list[CrawledFile], settings: CrawlerSettings) -> list[TablePlan]:
    """The tables (with their partitions and merged columns) for the crawled files of one include path."""
    files = sorted(files, key=lambda f: f.key)
    if not files:
        return []
    if settings.table_level:
        groups = _group_by_level(include, files, settings.table_level)
    elif settings.combine_compatible_schemas:
        groups = {include.prefix: files}
    else:
        groups = dict(_group_by_similarity(include.prefix, files))
    return [_table_plan(include.bucket, root, members, settings.table_prefix) for root, members in groups.items()]


def dedupe_table_names(plans: list[TablePlan]) -> None:
    """Two tables with the same name (from different include paths) get a hash of the location appended."""
    seen: set[str] = set()
    for plan in plans:
        if plan.name in seen:
            plan.name = f"{plan.name}_{hashlib.md5(plan.location.encode()).hexdigest()[:8]}"
        seen.add(plan.name)


def _folders(key: str) -> list[str]:
    return key.split("/")[:-1]


def _group_by_level(include: IncludePath, files: list[CrawledFile], level: int) -> dict[str, list[CrawledFile]]:
    """The root is `level - 1` folders below the bucket, but never above the include path nor below a file's folder."""
    include_depth = len(_folders(include.prefix))
    groups: dict[str, list[CrawledFile]] = {}
    for crawled in files:
        folders = _folders(crawled.key)
        depth = min(max(level - 1, include_depth), len(folders))
        root = "".join(f"{part}/" for part in folders[:depth])
        groups.setdefault(root, []).append(crawled)
    return groups


def _group_by_similarity(prefix: str, files: list[CrawledFile]) -> list[tuple[str, list[CrawledFile]]]:
    """Glue's default heuristic: (table root, files) pairs; a root equal to a file's key is a one-file table."""
    loose: list[CrawledFile] = []
    children: dict[str, list[CrawledFile]] = {}
    for crawled in files:
        rest = crawled.key[len(prefix) :]
        if "/" in rest:
            children.setdefault(prefix + rest.split("/", 1)[0] + "/", []).append(crawled)
        else:
            loose.append(crawled)
    child_groups = {child: _group_by_similarity(child, members) for child, members in children.items()}
    uniform = all(len(groups) == 1 and groups[0][0] == child for child, groups in child_groups.items())
    if uniform:
        schemas = [dict(merge_columns(members)) for members in children.values()]
        schemas += [dict(crawled.columns) for crawled in loose]
        if _mostly_similar(schemas):
            return [(prefix, files)]
    result = [(crawled.key, [crawled]) for crawled in loose]
    for groups in child_groups.values():
        result.extend(groups)
    return result


def _mostly_similar(schemas: list[dict[str, str]]) -> bool:
    clusters: list[tuple[dict[str, str], int]] = []
    for schema in schemas:
        for index, (representative, count) in enumerate(clusters):
            if schema_similarity(representative, schema) > SIMILARITY_THRESHOLD:
                clusters[index] = (representative, count + 1)
                break
        else:
            clusters.append((schema, 1))
    largest = max(count for _, count in clusters)
    return largest / len(schemas) > SIMILARITY_THRESHOLD and len(clusters) <= MAX_SCHEMA_CLUSTERS


def schema_similarity(left: dict[str, str], right: dict[str, str]) -> float:
    """Share of all column names that both schemas hold with the same type (1.0 = identical)."""
    names = left.keys() | right.keys()
    if not names:
        return 1.0
    same = sum(1 for name in names if left.get(name) is not None and left.get(name) == right.get(name))
    return same / len(names)


def merge_columns(files: list[CrawledFile]) -> Columns:
    """Union of the files' columns in first-seen order (files in key order); the newest file's type wins."""
    order: dict[str, None] = {}
    newest: dict[str, tuple[float, str]] = {}
    for crawled in files:
        for name, hive_type in crawled.columns:
            order.setdefault(name, None)
            if name not in newest or crawled.last_modified >= newest[name][0]:
                newest[name] = (crawled.last_modified, hive_type)
    return [(name, newest[name][1]) for name in order]


def table_name(root_key: str, bucket: str, prefix: str = "") -> str:
    base = root_key.rstrip("/").rsplit("/", 1)[-1] if root_key else bucket
    return prefix + re.sub(r"[^a-z0-9_]", "_", base.lower())


def _table_plan(bucket: str, root: str, files: list[CrawledFile], table_prefix: str) -> TablePlan:
    name = table_name(root, bucket, table_prefix)
    location = f"s3://{bucket}/{root}"
    if not root.endswith("/") and root:  # a one-file table
        return TablePlan(name, location, merge_columns(files), [], [], files)
    levels = [_folders(crawled.key[len(root) :]) for crawled in files]
    depth = Counter(len(parts) for parts in levels).most_common(1)[0][0]
    if depth == 0:  # files right in the root: an unpartitioned table (files in sub-folders are left out)
        kept = [crawled for crawled, parts in zip(files, levels, strict=True) if not parts]
        return TablePlan(name, location, merge_columns(kept), [], [], kept)
    members = [(crawled, parts) for crawled, parts in zip(files, levels, strict=True) if len(parts) == depth]
    keys = [_partition_key(level, [parts[level] for _, parts in members]) for level in range(depth)]
    partitions: dict[tuple[str, ...], PartitionPlan] = {}
    for crawled, parts in members:
        values = tuple(
            part.split("=", 1)[1] if keys[level] != f"partition_{level}" else part for level, part in enumerate(parts)
        )
        if values not in partitions:
            partitions[values] = PartitionPlan(values, location + "".join(f"{part}/" for part in parts))
        partitions[values].files.append(crawled)
    table_files = [crawled for crawled, _ in members]
    return TablePlan(name, location, merge_columns(table_files), keys, list(partitions.values()), table_files)


def _partition_key(level: int, segments: list[str]) -> str:
    names = {segment.split("=", 1)[0] for segment in segments if "=" in segment}
    if len(names) == 1 and all("=" in segment for segment in segments):
        return names.pop().lower()
    return f"partition_{level}"
