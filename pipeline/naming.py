"""Athena-safe names: lowercase [a-z0-9_], not starting with a digit, at most 255 characters.

A field path joins its sanitised keys with '_' (`customer.Address.City` nested -> customer_address_city). Names that
collide after sanitising get a deterministic suffix: '_' + the first 6 hex digits of the SHA-1 of the original path,
so the same path always gets the same name whatever else is in the file. Which path keeps the plain name is decided
once per dataset by its schema record (first come, first served), so names never change between files.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Collection, Sequence

MAX_NAME = 255
_UNSAFE = re.compile(r"[^a-z0-9_]")


def path_hash(path: Sequence[str], digits: int = 6) -> str:
    return hashlib.sha1(json.dumps(list(path), ensure_ascii=False).encode("utf-8")).hexdigest()[:digits]


def sanitize_key(key: str) -> str:
    """One JSON key -> lowercase ASCII with every other character as '_' (accents are dropped first: é -> e)."""
    ascii_key = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode("ascii")
    if not ascii_key and key:
        ascii_key = "_" * len(key)
    return _UNSAFE.sub("_", ascii_key.lower())


def base_name(path: Sequence[str]) -> str:
    """The plain column name of a path, before collision handling."""
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


def sanitize_dataset(name: str) -> str:
    """A folder name -> a Glue-safe table name (same rules as columns)."""
    return base_name([name]) if name else "default"
