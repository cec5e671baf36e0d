"""JSON text tables (the OpenX and the Hive JSON SerDes), read as Athena reads them: one JSON object a line.

- https://docs.aws.amazon.com/athena/latest/ug/openx-json-serde.html (org.openx.data.jsonserde.JsonSerDe):
  `case.insensitive` (default true: keys are lowercased before they meet the columns; a key that then repeats makes the
  line malformed, "Duplicate key"), `mapping.<column>` = JSON key, `dots.in.keys` (true: `a.b` reads as column `a_b`),
  `ignore.malformed.json` (true: a line that is not a JSON object reads as a row of NULLs, as the OpenX README says and
  as https://repost.aws/knowledge-center/athena-hive-cursor-error relies on to find such files by `"$path"`; false,
  the default: the query fails with HIVE_CURSOR_ERROR), `use.null.for.invalid.data`.
- https://docs.aws.amazon.com/athena/latest/ug/hive-json-serde.html (org.apache.hive.hcatalog.data.JsonSerDe): keys
  match columns case-insensitively; the OpenX-only properties above do not apply, so a malformed line always fails;
  `timestamp.formats` lists Joda patterns (or `millis`) tried before the default `yyyy-MM-dd HH:mm:ss[.f...]`.
- Nested columns: struct<...> from an object, array<...> from an array, map<k,v> from an object. A string column
  reads a number, boolean, object or array as its JSON text; a value a typed column cannot read fails the query with
  HIVE_BAD_DATA (OpenX with `use.null.for.invalid.data`: NULL). Blank lines are skipped; `.gz` files are gunzipped.
- Bytes scanned is the size of every file read: text cannot be pruned to columns
  (https://aws.amazon.com/athena/pricing/).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from localaws.athena import pseudo_columns
from localaws.athena.catalog import Table
from localaws.athena.cost import DataFile, TableScan
from localaws.athena.errors import QueryFailed
from localaws.athena.projection import strftime_pattern

OPENX = "org.openx.data.jsonserde.jsonserde"
HIVE = "org.apache.hive.hcatalog.data.jsonserde"
BAD_DATA = 1002
MAX_DECIMAL_DIGITS = 38


def is_json_table(table: Table) -> bool:
    serde = table.raw.get("StorageDescriptor", {}).get("SerdeInfo", {}).get("SerializationLibrary", "").lower()
    return serde in (OPENX, HIVE)


def _true(parameters: dict[str, str], name: str, default: bool) -> bool:
    value = parameters.get(name)
    return default if value is None else value.strip().lower() == "true"


class _Invalid(ValueError):
    """A value the column's type cannot read."""


class _Malformed(ValueError):
    """A line that is not a JSON object (or repeats a key once keys are folded)."""


@dataclass(frozen=True)
class _Options:
    openx: bool
    case_insensitive: bool
    dots_in_keys: bool
    ignore_malformed: bool
    null_for_invalid: bool
    mapping: dict[str, str]  # column -> JSON key
    timestamp_formats: tuple[str, ...]  # the Hive SerDe's `timestamp.formats`

    @classmethod
    def of(cls, table: Table) -> _Options:
        serde = table.raw.get("StorageDescriptor", {}).get("SerdeInfo", {})
        parameters = {k.lower(): v for k, v in serde.get("Parameters", {}).items()}
        openx = serde.get("SerializationLibrary", "").lower() == OPENX
        case_insensitive = not openx or _true(parameters, "case.insensitive", True)
        mapping = {}
        if openx:
            for key, value in serde.get("Parameters", {}).items():
                if key.lower().startswith("mapping."):
                    mapping[key[len("mapping.") :].lower()] = value.lower() if case_insensitive else value
        return cls(
            openx=openx,
            case_insensitive=case_insensitive,
            dots_in_keys=openx and _true(parameters, "dots.in.keys", False),
            ignore_malformed=openx and _true(parameters, "ignore.malformed.json", False),
            null_for_invalid=openx and _true(parameters, "use.null.for.invalid.data", False),
            mapping=mapping,
            timestamp_formats=tuple(
                f.strip() for f in ("" if openx else parameters.get("timestamp.formats", "")).split(",") if f.strip()
            ),
        )

    def fold(self, document: dict) -> dict:
        """The object's keys as the SerDe sees them (lowercased, dots to underscores); a repeat is malformed."""
        folded: dict = {}
        for key, value in document.items():
            name = key.lower() if self.case_insensitive else key
            name = name.replace(".", "_") if self.dots_in_keys else name
            if name in folded:
                raise _Malformed(f'JSONException: Duplicate key "{name}"')
            folded[name] = value
        return folded


def _read_lines(fs: pafs.FileSystem, file: DataFile) -> list[str]:
    with fs.open_input_file(file.path) as handle:
        data = handle.read()
    if file.path.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace").splitlines()


def build_json_scan(table: Table, files: list[DataFile], fs: pafs.FileSystem, hidden: bool = False) -> TableScan:
    """Every line of every file as one row of the table's schema (plus the pseudo-columns with `hidden`)."""
    options = _Options.of(table)
    partition_names = [key["Name"].lower() for key in table.partition_keys]
    data = [f for f in table.schema if f.name not in partition_names]
    keys = [options.mapping.get(f.name, f.name) for f in data]
    columns: dict[str, list] = {f.name: [] for f in table.schema}
    hidden_fields = pseudo_columns.fields() if hidden else []
    for field in hidden_fields:
        columns[field.name] = []
    for file in files:
        extra = {**file.partition, **(pseudo_columns.values(file) if hidden else {})}
        for number, line in enumerate(_read_lines(fs, file), start=1):
            if not line.strip():
                continue
            row = _row(line, data, keys, options, file, number)
            for field, value in zip(data, row, strict=True):
                columns[field.name].append(value)
            for name, value in extra.items():
                columns[name].append(value)
    arrays = {}
    for field in [*table.schema, *hidden_fields]:
        values = columns[field.name]
        if field.name in partition_names:
            arrays[field.name] = pa.array(values, pa.string()).cast(field.type)
        else:
            arrays[field.name] = pa.array(values, field.type)
    typed = pa.table(arrays, schema=pa.schema([*table.schema, *hidden_fields]))
    return TableScan(ds.dataset(typed), sum(f.size for f in files), len(files))


def _row(line: str, data: list[pa.Field], keys: list[str], options: _Options, file: DataFile, number: int) -> list:
    try:
        document = json.loads(line, parse_float=Decimal)
        if not isinstance(document, dict):
            raise _Malformed("Row is not a valid JSON Object")
        document = options.fold(document)
    except (json.JSONDecodeError, _Malformed) as error:
        if options.ignore_malformed:
            return [None] * len(data)
        reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        raise QueryFailed(
            f"HIVE_CURSOR_ERROR: Row is not a valid JSON Object - {reason} (line {number} of s3://{file.path})",
            error_type=BAD_DATA,
        ) from None
    row = []
    for index, (field, key) in enumerate(zip(data, keys, strict=True)):
        try:
            row.append(_value(document.get(key), field.type, options))
        except _Invalid:
            if options.null_for_invalid:
                row.append(None)
                continue
            # Athena's words: https://repost.aws/knowledge-center/athena-hive-bad-data-parsing-field-value
            text = _text(document.get(key))
            raise QueryFailed(
                f"HIVE_BAD_DATA: Error parsing field value '{text}' for field {index}: For input string: \"{text}\"",
                error_type=BAD_DATA,
            ) from None
    return row


def _text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(_plain(value), separators=(",", ":"))


def _plain(value):
    """Numbers parsed as Decimal back to JSON numbers, for a nested value read as its JSON text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _value(value, dtype: pa.DataType, options: _Options):
    """A JSON value as the column's type reads it."""
    if value is None:
        return None
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return _text(value)
    if pa.types.is_struct(dtype):
        if not isinstance(value, dict):
            raise _Invalid(f"'{_text(value)}' is not an object")
        folded = options.fold(value) if options.case_insensitive or options.dots_in_keys else value
        try:
            return {f.name: _value(folded.get(f.name), f.type, options) for f in dtype}
        except _Malformed as error:
            raise _Invalid(str(error)) from None
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        if not isinstance(value, list):
            raise _Invalid(f"'{_text(value)}' is not an array")
        return [_value(item, dtype.value_type, options) for item in value]
    if pa.types.is_map(dtype):
        if not isinstance(value, dict):
            raise _Invalid(f"'{_text(value)}' is not an object")
        return [(_value(k, dtype.key_type, options), _value(v, dtype.item_type, options)) for k, v in value.items()]
    if isinstance(value, (dict, list)):
        raise _Invalid(f"'{_text(value)}' is not a {dtype}")
    text = _text(value).strip()
    try:
        if pa.types.is_boolean(dtype):
            if text.lower() not in ("true", "false"):
                raise _Invalid(f"'{text}' is not a boolean")
            return text.lower() == "true"
        if pa.types.is_integer(dtype):
            number = Decimal(text)
            if number != number.to_integral_value():
                raise _Invalid(f"'{text}' is not an integer")
            integer = int(number)
            bits = dtype.bit_width - 1
            if not -(2**bits) <= integer < 2**bits:
                raise _Invalid(f"'{text}' is out of range for {dtype}")
            return integer
        if pa.types.is_floating(dtype):
            return float(text)
        if pa.types.is_decimal(dtype):
            # Hive's HiveDecimal rounds half up, and holds 38 digits (Python's default context: 28)
            with localcontext(Context(prec=2 * MAX_DECIMAL_DIGITS)):
                return Decimal(text).quantize(Decimal(1).scaleb(-dtype.scale), rounding=ROUND_HALF_UP)
        if pa.types.is_date(dtype):
            return dt.date.fromisoformat(text)
        if pa.types.is_timestamp(dtype):
            return _timestamp(value, text, options)
        if pa.types.is_binary(dtype):
            return base64.b64decode(text, validate=True)
    except (InvalidOperation, ValueError, TypeError) as error:
        if isinstance(error, _Invalid):
            raise
        raise _Invalid(f"'{text}' is not a {dtype}") from None
    raise _Invalid(f"localaws cannot read {dtype} from JSON")


def _timestamp(value, text: str, options: _Options) -> dt.datetime:
    """`yyyy-MM-dd HH:mm:ss[.fff]` for both SerDes; the Hive SerDe first tries each of `timestamp.formats` (Joda
    patterns, or `millis`); OpenX also reads ISO 8601 and a number as UNIX milliseconds. An offset converts to UTC."""
    for pattern in options.timestamp_formats:
        try:
            if pattern == "millis":
                return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(text))
            return _utc(dt.datetime.strptime(text, strftime_pattern(pattern, parsing=True)))
        except ValueError:
            continue
    if isinstance(value, Decimal) and options.openx:
        return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(value))
    if not options.openx and "T" in text:
        raise ValueError(text)
    return _utc(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))


def _utc(parsed: dt.datetime) -> dt.datetime:
    return parsed.astimezone(dt.UTC).replace(tzinfo=None) if parsed.tzinfo is not None else parsed
