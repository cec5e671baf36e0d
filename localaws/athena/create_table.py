"""CREATE EXTERNAL TABLE in Athena's Hive DDL, registered in Glue as Athena registers it.

https://docs.aws.amazon.com/athena/latest/ug/create-table.html: columns, COMMENT, PARTITIONED BY, CLUSTERED BY ... INTO
n BUCKETS, ROW FORMAT (DELIMITED or SERDE), STORED AS <format> or INPUTFORMAT/OUTPUTFORMAT, LOCATION, TBLPROPERTIES.
SQLAlchemy's Athena dialect (pyathena) creates tables so. localaws reads Parquet, JSON (json_tables.py) and delimited
text (text_tables.py); a table in another format is registered all the same and fails when queried (NOT_SUPPORTED),
as the README says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from localaws.athena import names
from localaws.athena.athena_types import UnknownTypeError, hive_to_arrow
from localaws.athena.catalog import Catalog
from localaws.athena.engine import Context, Engine
from localaws.athena.errors import QueryFailed
from localaws.athena.results import ResultSet
from localaws.athena.table_files import PARQUET_INPUT, PARQUET_OUTPUT, PARQUET_SERDE

TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
# STORED AS <name>: (InputFormat, OutputFormat, SerializationLibrary, classification)
STORED_AS = {
    "PARQUET": (PARQUET_INPUT, PARQUET_OUTPUT, PARQUET_SERDE, "parquet"),
    "TEXTFILE": (TEXT_INPUT, TEXT_OUTPUT, LAZY_SIMPLE_SERDE, "csv"),
    "ORC": (
        "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
        "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
        "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
        "orc",
    ),
    "AVRO": (
        "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat",
        "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat",
        "org.apache.hadoop.hive.serde2.avro.AvroSerDe",
        "avro",
    ),
}


# ROW FORMAT DELIMITED clauses -> LazySimpleSerDe parameters, as Glue stores them
# (https://docs.aws.amazon.com/athena/latest/ug/lazy-simple-serde.html).
DELIMITED = {
    r"FIELDS\s+TERMINATED\s+BY": "field.delim",
    r"ESCAPED\s+BY": "escape.delim",
    r"COLLECTION\s+ITEMS\s+TERMINATED\s+BY": "collection.delim",
    r"MAP\s+KEYS\s+TERMINATED\s+BY": "mapkey.delim",
    r"LINES\s+TERMINATED\s+BY": "line.delim",
    r"NULL\s+DEFINED\s+AS": "serialization.null.format",
}


def _unescape(text: str) -> str:
    r"""'\t', '\n', '\\' and '\001' as Hive reads them in DDL."""
    return re.sub(
        r"\\(0[0-7]{2}|[0-7]{1,3}|.)",
        lambda m: chr(int(m[1], 8)) if m[1][0].isdigit() else {"t": "\t", "n": "\n", "r": "\r"}.get(m[1], m[1]),
        text,
    )


def _balanced(text: str, start: int) -> int:
    """The index just after the parenthesis that closes the one at `start`, skipping quoted text."""
    depth, quote = 0, ""
    for index in range(start, len(text)):
        char = text[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
    raise QueryFailed("line 1:1: mismatched input '<EOF>'. Expecting: ')'", error_type=1005)


def _columns(text: str) -> list[dict]:
    columns, depth, current = [], 0, ""
    parts = []
    for char in text:
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    for definition in (p for p in parts if p.strip()):
        found = re.match(
            r"\s*([`\"]?)([\w$]+)\1\s+(.+?)(?:\s+COMMENT\s+'((?:[^']|'')*)')?\s*$", definition, re.I | re.S
        )
        if not found:
            raise QueryFailed(f"line 1:1: mismatched input '{definition.strip()}'", error_type=1005)
        type_name = re.sub(r"\s+", "", found.group(3)).lower()
        try:
            hive_to_arrow(type_name)
        except UnknownTypeError:
            raise QueryFailed(f"TYPE_NOT_FOUND: line 1:1: Unknown type '{type_name}'") from None
        column = {"Name": found.group(2).lower(), "Type": type_name}
        if found.group(4):
            column["Comment"] = found.group(4).replace("''", "'")
        columns.append(column)
    return columns


def pairs(text: str) -> dict[str, str]:
    """'k' = 'v' pairs (or "k" = "v", which Hive takes too); Hive unescapes the values as it does every string literal
    of its DDL ('\\\\' is one '\\')."""
    literal = r"'((?:[^'\\]|''|\\.)*)'" + "|" + r'"((?:[^"\\]|""|\\.)*)"'
    pairs = re.findall(rf"(?:{literal})\s*=\s*(?:{literal})", text)
    return {(k1 or k2): _unescape((v1.replace("''", "'")) or v2.replace('""', '"')) for k1, k2, v1, v2 in pairs}


@dataclass
class CreateTable:
    engine: Engine

    @property
    def catalog(self) -> Catalog:
        return self.engine.catalog

    def handlers(self):
        return ((rf"CREATE\s+EXTERNAL\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?{names.QUALIFIED}\s*(\(.+)$", self.create),)

    def create(self, match, context: Context, cursor, query_id: str, output: str) -> ResultSet:
        database, name = names.split(match.group(2), context.database)
        text = match.group(3)
        end = _balanced(text, 0)
        columns, rest = _columns(text[1 : end - 1]), text[end:]
        clause = self._clauses(rest)
        if self.catalog.get_database(database) is None:
            raise QueryFailed(f"SCHEMA_NOT_FOUND: line 1:1: Schema '{database}' does not exist")
        if self.catalog.get_table(database, name, with_partitions=False) is not None:
            if match.group(1):
                return ResultSet.text("result", [])
            raise QueryFailed(f"ALREADY_EXISTS: Table {database}.{name} already exists")
        keys = clause.get("partitioned_by", [])
        clash = {c["Name"] for c in columns} & {k["Name"] for k in keys}
        if clash:
            raise QueryFailed(f"COLUMN_ALREADY_EXISTS: Column repeated in partitioning columns: {sorted(clash)[0]}")
        if not clause.get("location"):
            raise QueryFailed("INVALID_TABLE_PROPERTY: CREATE EXTERNAL TABLE needs a LOCATION in Athena")
        descriptor = {
            "Columns": columns,
            "Location": clause["location"],
            "InputFormat": clause["input"],
            "OutputFormat": clause["output"],
            "SerdeInfo": {"SerializationLibrary": clause["serde"], "Parameters": clause["serde_parameters"]},
            "Compressed": False,
        }
        if clause.get("bucketed_by"):
            descriptor["BucketColumns"] = clause["bucketed_by"]
            descriptor["NumberOfBuckets"] = clause["bucket_count"]
        parameters = {"EXTERNAL": "TRUE", "classification": clause["classification"], **clause["properties"]}
        table_input = {
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": parameters,
            "StorageDescriptor": descriptor,
            "PartitionKeys": keys,
        }
        if clause.get("comment"):
            table_input["Description"] = clause["comment"]
        self.catalog.create_table(database, table_input)
        return ResultSet.text("result", [])

    @staticmethod
    def _clauses(rest: str) -> dict:
        found: dict = {"properties": {}, "serde_parameters": {"serialization.format": "1"}}
        input_format, output_format, serde, classification = STORED_AS["TEXTFILE"]
        comment = re.match(r"\s*COMMENT\s+'((?:[^']|'')*)'", rest, re.I)
        if comment:
            found["comment"] = comment.group(1).replace("''", "'")
        partitioned = re.search(r"PARTITIONED\s+BY\s*\(", rest, re.I)
        if partitioned:
            start = partitioned.end() - 1
            found["partitioned_by"] = _columns(rest[start + 1 : _balanced(rest, start) - 1])
        clustered = re.search(r"CLUSTERED\s+BY\s*\(([^)]*)\)\s*INTO\s+(\d+)\s+BUCKETS", rest, re.I)
        if clustered:
            found["bucketed_by"] = [names.unquote(c) for c in clustered.group(1).split(",")]
            found["bucket_count"] = int(clustered.group(2))
        serde_name = re.search(r"ROW\s+FORMAT\s+SERDE\s+'([^']+)'", rest, re.I)
        if serde_name:
            serde = serde_name.group(1)
            classification = "json" if "json" in serde.lower() else classification
        serde_properties = re.search(r"WITH\s+SERDEPROPERTIES\s*\(", rest, re.I)
        if serde_properties:
            start = serde_properties.end() - 1
            found["serde_parameters"] |= pairs(rest[start : _balanced(rest, start)])
        for clause, parameter in DELIMITED.items():
            given = re.search(rf"{clause}\s+'((?:[^'\\]|\\.)*)'", rest, re.I)
            if given:
                found["serde_parameters"][parameter] = _unescape(given.group(1))
        if found["serde_parameters"].get("line.delim", "\n") != "\n":
            # Hive's own rule, which Athena keeps: https://docs.aws.amazon.com/athena/latest/ug/lazy-simple-serde.html
            raise QueryFailed("NOT_SUPPORTED: LINES TERMINATED BY only supports newline '\\n' right now")
        stored = re.search(r"STORED\s+AS\s+(\w+)", rest, re.I)
        if stored and stored.group(1).upper() != "INPUTFORMAT":
            kind = stored.group(1).upper()
            if kind not in STORED_AS:
                raise QueryFailed(f"NOT_SUPPORTED: localaws does not know the storage format {kind}")
            input_format, output_format, serde_default, classification = STORED_AS[kind]
            serde = serde_name.group(1) if serde_name else serde_default
        formats = re.search(r"STORED\s+AS\s+INPUTFORMAT\s+'([^']+)'\s+OUTPUTFORMAT\s+'([^']+)'", rest, re.I)
        if formats:
            input_format, output_format = formats.group(1), formats.group(2)
            if "parquet" in input_format.lower():
                classification = "parquet"
        location = re.search(r"LOCATION\s+'([^']+)'", rest, re.I)
        if location:
            found["location"] = location.group(1).rstrip("/") + "/"
        properties = re.search(r"TBLPROPERTIES\s*\(", rest, re.I)
        if properties:
            start = properties.end() - 1
            found["properties"] = pairs(rest[start : _balanced(rest, start)])
        found.update(input=input_format, output=output_format, serde=serde, classification=classification)
        return found
