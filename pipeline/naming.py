"""The naming contract: every name the pipeline writes is valid in Glue and Athena, deterministic, never hidden.

Glue and Athena take table and column names of 1-255 characters, lowercase
(https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html); Hive, Athena and the Glue crawler
skip files and folders whose names start with `_` or `.` (Hadoop's hidden-file filter). So:

- Columns: a field path joins its sanitised keys with '_' (`customer.Address.City` -> customer_address_city):
  lowercase [a-z0-9_], accents folded (é -> e), a leading digit gets '_', at most 255 characters. Names that collide
  get '_' + the first 6 hex digits of the SHA-1 of the original path, so the same path always gets the same name
  whatever else is in the file. Which path keeps the plain name is decided once per dataset by its schema record
  (first come, first served). The pipeline's own names (`RESERVED_COLUMNS`: the partition key `dt` and the lineage
  columns) are never given to a data field: `dt` in the data becomes `dt_<hash>`, recorded in the schema record.
- Top-level datasets (one per folder under raw/): [a-z0-9_], never starting or ending with '_', never containing
  '__', at most 128 characters (`2024-sales` -> 2024_sales, `_staging` -> staging, `Überweisungen` -> uberweisungen).
- Child datasets (arrays of objects): `<parent>__<field>` (`orders` + `items` -> orders__items). The '__' that no
  top-level name can contain keeps the two kinds apart by construction, and fields never contain '__' either, so
  `carts__items` (child) and `carts_items` (folder) can never be the same table.
- Output objects: `<stem>_<UTC time>_<hash>.parquet`, the stem being the source file's name folded to ASCII with
  everything up to its first letter or digit dropped, so an object name never starts with `_` or `.`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Collection, Iterator, Sequence

MAX_NAME = 255  # Glue/Athena table and column names: 1-255 characters (see the module docstring)
MAX_DATASET = 128  # top-level datasets stay short enough that `<dataset>__<field>` keeps its '__' when cut to 255
MAX_STEM = 100  # the source-name part of an output object name (an S3 key may hold 1024 bytes)
PARTITION_KEY = "dt"  # processed/<dataset>/dt=YYYY-MM-DD/
CHILD_SEPARATOR = "__"
_UNSAFE = re.compile(r"[^a-z0-9_]")
_RUNS = re.compile(r"_{2,}")
_UNSAFE_OBJECT = re.compile(r"[^A-Za-z0-9._-]")


def path_hash(path: Sequence[str], digits: int = 6) -> str:
    """Hex digits of the SHA-1 of the path's JSON text. A key may hold a lone surrogate (`{"\\ud83d": 1}` is valid
    JSON, RFC 8259 section 8.2): surrogatepass hashes it as its code point instead of failing."""
    text = json.dumps(list(path), ensure_ascii=False)
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:digits]


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def sanitize_key(key: str) -> str:
    """One JSON key -> lowercase ASCII with every other character as '_' (accents are dropped first: é -> e)."""
    ascii_key = _ascii(key)
    if not ascii_key and key:
        ascii_key = "_" * len(key)
    return _UNSAFE.sub("_", ascii_key.lower())


def base_name(path: Sequence[str]) -> str:
    """The plain column name of a path, before collision handling."""
    return _base_name(tuple(path))


@functools.lru_cache(maxsize=4096)  # the early writer merges the file's schema once per block: the same paths
def _base_name(path: tuple[str, ...]) -> str:
    name = "_".join(sanitize_key(key) for key in path)
    if not re.search(r"[a-z0-9]", name):
        name = f"col_{path_hash(path)}"  # e.g. a key made only of symbols or CJK characters
    elif name[0].isdigit():
        name = f"_{name}"
    return _fit(name, path)


def _fit(name: str, path: Sequence[str], suffix: str = "") -> str:
    if len(name) + len(suffix) <= MAX_NAME:
        return name + suffix
    tail = f"_{path_hash(path, 8)}{suffix}"
    return name[: MAX_NAME - len(tail)] + tail


def unique_name(wanted: str, path: Sequence[str], taken: Collection[str]) -> str:
    """`wanted` if free, else a deterministic suffixed variant of it that is free."""
    if wanted not in taken:
        return wanted
    for digits in (6, 10, 16, 40):
        candidate = _fit(wanted, path, f"_{path_hash(path, digits)}")
        if candidate not in taken:
            return candidate
    raise ValueError(f"no free name for {wanted!r}")


def type_slug(hive_type: str) -> str:
    """decimal(38,0) -> decimal_38_0, array<string> -> array_string: the suffix of a variant column."""
    return re.sub(r"_+", "_", _UNSAFE.sub("_", hive_type)).strip("_")


def _squeeze(name: str) -> str:
    """Runs of '_' -> one, none at either end: the shape of a top-level dataset name and of a child's field part."""
    return _RUNS.sub("_", name).strip("_")


def dataset_name(folder: str) -> str:
    """A folder under raw/ -> its top-level dataset name: [a-z0-9_], no '_' at either end, no '__', 1-128 chars.

    `2024-sales` -> 2024_sales (a table name starting with a digit is valid; SQL quotes it: "2024_sales"),
    `_staging` -> staging, `My-Data`/`my_data`/`MY DATA` -> my_data (see `dataset_candidates` for who gets it),
    a folder with no usable character -> dataset_<8 hex of its SHA-1>.
    """
    name = _squeeze(sanitize_key(folder))
    if not name:
        return f"dataset_{path_hash([folder], 8)}"
    if len(name) > MAX_DATASET:
        name = f"{name[: MAX_DATASET - 9].rstrip('_')}_{path_hash([folder], 8)}"
    return name


def dataset_candidates(folder: str, plain: str | None = None) -> Iterator[str]:
    """The names a folder may take, in order: the plain `dataset_name` (or `plain`), then that name + '_' + a hash
    of the folder, longer each time. The first one not held by another folder is the folder's (schema.claim_dataset).
    """
    name = plain if plain is not None else dataset_name(folder)
    yield name
    for digits in (8, 16, 40):
        yield f"{name[: MAX_DATASET - digits - 1].rstrip('_')}_{path_hash([folder], digits)}"


def is_top_level_dataset(name: str) -> bool:
    """True for names `dataset_name` can give; every child dataset name is False (it holds '__')."""
    return (
        0 < len(name) <= MAX_DATASET
        and not _UNSAFE.search(name)
        and CHILD_SEPARATOR not in name
        and not name.startswith("_")
        and not name.endswith("_")
    )


def child_dataset_name(parent: str, path: Sequence[str]) -> str:
    """The child dataset of the array of objects at `path` in `parent`: `<parent>__<field>`, cut to 255 with a hash.

    The field part never holds '__' or starts or ends with '_', so the name splits back into its parts unambiguously.
    """
    field = _squeeze(base_name(path))
    name = f"{parent}{CHILD_SEPARATOR}{field}"
    if len(name) <= MAX_NAME:
        return name
    tail = f"_{path_hash([parent, *path], 8)}"
    return name[: MAX_NAME - len(tail)].rstrip("_") + tail


def object_stem(stem: str) -> str:
    """A source file's name (its suffixes removed) -> the start of its output objects' names, never hidden.

    Folded to ASCII (`Überweisungen` -> Uberweisungen), other characters -> '_', everything before the first letter
    or digit dropped (`_tmp`, `.hidden`, ` x` -> tmp, hidden, x), cut to 100 characters; nothing left -> `input`.
    """
    cleaned = _UNSAFE_OBJECT.sub("_", _ascii(stem))
    cleaned = re.sub(r"^[^A-Za-z0-9]+", "", cleaned)[:MAX_STEM]
    return cleaned or "input"


def sanitize_dataset(name: str) -> str:
    """A folder name -> its plain top-level dataset name (kept for callers of the old name; see `dataset_name`)."""
    return dataset_name(name) if name else "default"
