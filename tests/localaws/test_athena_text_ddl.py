"""CREATE EXTERNAL TABLE over JSON and CSV text, and the pseudo-columns, queried through Athena's API on localaws.

- OpenX JSON SerDe: https://docs.aws.amazon.com/athena/latest/ug/openx-json-serde.html
- Hive JSON SerDe: https://docs.aws.amazon.com/athena/latest/ug/hive-json-serde.html
- LazySimpleSerDe: https://docs.aws.amazon.com/athena/latest/ug/lazy-simple-serde.html
- OpenCSVSerDe: https://docs.aws.amazon.com/athena/latest/ug/csv-serde.html
- "$path": https://docs.aws.amazon.com/athena/latest/ug/select.html#select-path
"""

from __future__ import annotations

import gzip

import pytest
from athena_tables import OPENX, Shop, result_rows, succeeded
from athena_tables import failed as failure
from athena_tables import put_object as put
from athena_tables import unique_table_name as name

pytestmark = pytest.mark.localaws

HIVE = "org.apache.hive.hcatalog.data.JsonSerDe"


def values(shop: Shop, sql: str) -> list[list[str | None]]:
    execution = succeeded(shop, sql)
    return result_rows(shop.athena, execution["QueryExecutionId"])[1][1:]


def json_table(shop: Shop, table: str, columns: str, serde: str, properties: str = "", extra: str = "") -> None:
    serde_properties = f" WITH SERDEPROPERTIES ({properties})" if properties else ""
    succeeded(
        shop,
        f"CREATE EXTERNAL TABLE {table} ({columns}) {extra} ROW FORMAT SERDE '{serde}'{serde_properties} "
        f"LOCATION 's3://{shop.bucket}/json/{table}/'",
    )


EVENTS = (
    b'{"Event_ID": "e1", "type": "view", "n": 3, "price": 1.50, "ok": true, '
    b'"device": {"OS": "ios", "screen": {"w": 390}}, "tags": ["a", "b"], "attrs": {"k": "v"}, "extra": {"x": [1]}}\n'
    b'{"event_id": "e2", "type": "click", "n": "4", "price": 2, "ok": false, "device": null, "tags": [], "attrs": {}}\n'
    b"\n"
    b'{"event_id": "e3", "type": "view", "n": null}\n'
)
COLUMNS = (
    "event_id string, type string, n int, price double, ok boolean, "
    "device struct<os:string, screen:struct<w:int>>, tags array<string>, attrs map<string,string>, extra string"
)


def test_openx_json_reads_nested_columns_case_insensitively(shop: Shop) -> None:
    table = name()
    put(shop, f"json/{table}/a.json", EVENTS)
    json_table(shop, table, COLUMNS, OPENX)
    stored = shop.glue.get_table(DatabaseName=shop.database, Name=table)["Table"]
    assert stored["Parameters"]["classification"] == "json"
    assert stored["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == OPENX
    rows = values(
        shop,
        f"SELECT event_id, type, n, price, ok, device.os, device.screen.w, cardinality(tags), "
        f"element_at(attrs, 'k'), extra FROM {table} ORDER BY event_id",  # attrs['k'] of e2's {} fails in Trino
    )
    assert rows == [
        ["e1", "view", "3", "1.5", "true", "ios", "390", "2", "v", '{"x":[1]}'],
        ["e2", "click", "4", "2.0", "false", None, None, "0", None, None],
        ["e3", "view", None, None, None, None, None, None, None, None],
    ]
    execution = succeeded(shop, f"SELECT event_id FROM {table}")
    assert execution["Statistics"]["DataScannedInBytes"] == len(EVENTS)  # the whole file: text is not pruned


def test_hive_json_serde_reads_the_same_lines(shop: Shop) -> None:
    table = name()
    put(shop, f"json/{table}/a.json", EVENTS)
    json_table(shop, table, COLUMNS, HIVE)
    assert values(shop, f"SELECT event_id, device.os, tags FROM {table} ORDER BY event_id") == [
        ["e1", "ios", "[a, b]"],
        ["e2", None, "[]"],
        ["e3", None, None],
    ]


def test_a_malformed_line_fails_the_query_unless_ignore_malformed_json(shop: Shop) -> None:
    body = b'{"id": "1"}\nnot json at all\n{"id": "3"}\n'
    strict, lenient, hive = name(), name(), name()
    for table in (strict, lenient, hive):
        put(shop, f"json/{table}/a.json", body)
    json_table(shop, strict, "id string", OPENX)
    json_table(shop, lenient, "id string", OPENX, "'ignore.malformed.json' = 'true'")
    json_table(shop, hive, "id string", HIVE, "'ignore.malformed.json' = 'true'")  # an OpenX-only property
    assert failure(shop, f"SELECT count(*) FROM {strict}").startswith("HIVE_CURSOR_ERROR: Row is not a valid JSON")
    assert failure(shop, f"SELECT * FROM {hive}").startswith("HIVE_CURSOR_ERROR")
    # the malformed line is a row of NULLs, found by "$path" as AWS's knowledge center suggests
    assert values(shop, f'SELECT id, "$path" FROM {lenient} ORDER BY id NULLS LAST') == [
        ["1", f"s3://{shop.bucket}/json/{lenient}/a.json"],
        ["3", f"s3://{shop.bucket}/json/{lenient}/a.json"],
        [None, f"s3://{shop.bucket}/json/{lenient}/a.json"],
    ]


def test_case_insensitive_false_mapping_and_dots_in_keys(shop: Shop) -> None:
    body = b'{"userId": "u1", "userid": "low", "a.b": 7, "ts": "2024-06-01T09:09:49.902Z"}\n'
    sensitive, dotted, default = name(), name(), name()
    for table in (sensitive, default):
        put(shop, f"json/{table}/a.json", body)
    put(shop, f"json/{dotted}/a.json", b'{"A.b": 7, "ts": "2024-06-01T09:09:49.902Z"}\n')
    json_table(
        shop, sensitive, "user_id string, userid string", OPENX,
        "'case.insensitive' = 'false', 'mapping.user_id' = 'userId'",
    )  # fmt: skip
    assert values(shop, f"SELECT user_id, userid FROM {sensitive}") == [["u1", "low"]]
    json_table(shop, dotted, "a_b int, ts timestamp", OPENX, "'dots.in.keys' = 'true'")
    assert values(shop, f"SELECT a_b, ts FROM {dotted}") == [["7", "2024-06-01 09:09:49.902"]]
    # by default the keys are lowercased first, so userId and userid collide: a malformed row
    json_table(shop, default, "userid string", OPENX)
    assert 'Duplicate key "userid"' in failure(shop, f"SELECT * FROM {default}")


def test_a_value_the_column_cannot_read_is_bad_data(shop: Shop) -> None:
    table, lenient = name(), name()
    for each in (table, lenient):
        put(shop, f"json/{each}/a.json", b'{"n": "many"}\n{"n": 2}\n')
    json_table(shop, table, "n int", OPENX)
    reason = failure(shop, f"SELECT sum(n) FROM {table}")
    assert reason == "HIVE_BAD_DATA: Error parsing field value 'many' for field 0: For input string: \"many\""
    json_table(shop, lenient, "n int", OPENX, "'use.null.for.invalid.data' = 'true'")
    assert values(shop, f"SELECT n FROM {lenient} ORDER BY n") == [["2"], [None]]


def test_partitioned_json_gzip_files_and_file_pseudo_columns(shop: Shop) -> None:
    table = name()
    plain = b'{"id": "1"}\n{"id": "2"}\n'
    packed = gzip.compress(b'{"id": "3"}\n')
    put(shop, f"json/{table}/dt=2024-06-01/a.json", plain)
    put(shop, f"json/{table}/dt=2024-06-02/b.json.gz", packed)
    json_table(shop, table, "id string", OPENX, extra="PARTITIONED BY (dt string)")
    succeeded(shop, f"MSCK REPAIR TABLE {table}")
    rows = values(shop, f'SELECT id, dt, "$path", "$file_size" FROM {table} ORDER BY id')
    assert rows == [
        ["1", "2024-06-01", f"s3://{shop.bucket}/json/{table}/dt=2024-06-01/a.json", str(len(plain))],
        ["2", "2024-06-01", f"s3://{shop.bucket}/json/{table}/dt=2024-06-01/a.json", str(len(plain))],
        ["3", "2024-06-02", f"s3://{shop.bucket}/json/{table}/dt=2024-06-02/b.json.gz", str(len(packed))],
    ]
    execution = succeeded(shop, f"SELECT count(*) FROM {table} WHERE dt = '2024-06-02'")
    assert execution["Statistics"]["DataScannedInBytes"] == len(packed)  # the compressed bytes of the pruned file
    # the pseudo-columns stay out of SELECT *; a filter on "$path" reads (and bills) only the files it keeps
    one_file = succeeded(shop, f"SELECT * FROM {table} WHERE \"$path\" LIKE '%.gz'")
    assert result_rows(shop.athena, one_file["QueryExecutionId"])[1][1:] == [["3", "2024-06-02"]]
    assert one_file["Statistics"]["DataScannedInBytes"] == len(packed)
    # "$file_modified_time" is the object's LastModified
    head = shop.s3.head_object(Bucket=shop.bucket, Key=f"json/{table}/dt=2024-06-02/b.json.gz")
    modified = values(shop, f"SELECT to_unixtime(\"$file_modified_time\") FROM {table} WHERE id = '3'")[0][0]
    assert float(modified) == head["LastModified"].timestamp()


def test_pseudo_columns_of_parquet_and_csv_tables(shop: Shop) -> None:
    paths = values(shop, 'SELECT DISTINCT "$path", "$file_size" FROM orders WHERE dt = \'2024-03-01\'')
    keys = shop.s3.list_objects_v2(Bucket=shop.bucket, Prefix="processed/orders/")["Contents"]
    day = [k for k in keys if "/dt=2024-03-01/" in k["Key"]]
    assert sorted(paths) == sorted([f"s3://{shop.bucket}/{k['Key']}", str(k["Size"])] for k in day)
    every = succeeded(shop, "SELECT max(amount) FROM orders")["Statistics"]["DataScannedInBytes"]
    one = succeeded(shop, f"SELECT max(amount) FROM orders WHERE \"$path\" = 's3://{shop.bucket}/{day[0]['Key']}'")
    assert 0 < one["Statistics"]["DataScannedInBytes"] < every  # only that file's amount chunks
    typed = succeeded(shop, 'SELECT "$path", "$file_size", "$file_modified_time" FROM orders LIMIT 1')
    metadata, rows = result_rows(shop.athena, typed["QueryExecutionId"])
    assert [c["Type"] for c in metadata] == ["varchar", "bigint", "timestamp with time zone"]
    assert rows[1][2].endswith(" UTC")  # timestamp(3) with time zone, as Athena prints it
    stars = succeeded(shop, 'SELECT o.*, "$path" AS p FROM orders o LIMIT 1')
    columns = [c["Name"] for c in result_rows(shop.athena, stars["QueryExecutionId"])[0]]
    assert columns[-1] == "p" and not any(c.startswith("$") for c in columns)
    csv = name()
    put(shop, f"csv/{csv}/a.csv", b"1,x\n2,y\n")
    succeeded(
        shop,
        f"CREATE EXTERNAL TABLE {csv} (id int, v string) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' "
        f"LOCATION 's3://{shop.bucket}/csv/{csv}/'",
    )
    assert values(shop, f'SELECT v, "$path" FROM {csv} WHERE id = 2') == [["y", f"s3://{shop.bucket}/csv/{csv}/a.csv"]]


def test_lazy_simple_serde_delimiters_escapes_nulls_and_header(shop: Shop) -> None:
    table = name()
    put(shop, f"csv/{table}/a.tsv", b"id\tnote\tqty\n1\ta\\\tb\tNA\n2\tplain\t5\n")
    succeeded(
        shop,
        f"CREATE EXTERNAL TABLE {table} (id int, note string, qty int) ROW FORMAT DELIMITED "
        "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' NULL DEFINED AS 'NA' "
        f"LOCATION 's3://{shop.bucket}/csv/{table}/' TBLPROPERTIES ('skip.header.line.count'='1')",
    )
    parameters = shop.glue.get_table(DatabaseName=shop.database, Name=table)["Table"]["StorageDescriptor"]
    serde = parameters["SerdeInfo"]["Parameters"]
    assert (serde["field.delim"], serde["escape.delim"], serde["serialization.null.format"]) == ("\t", "\\", "NA")
    assert values(shop, f"SELECT id, note, qty FROM {table} ORDER BY id") == [["1", "a\tb", None], ["2", "plain", "5"]]
    other = name()
    reason = failure(
        shop,
        f"CREATE EXTERNAL TABLE {other} (a string) ROW FORMAT DELIMITED LINES TERMINATED BY '|' "
        f"LOCATION 's3://{shop.bucket}/csv/{other}/'",
    )
    assert "LINES TERMINATED BY only supports newline" in reason


def test_open_csv_serde_parses_typed_columns_as_athena_does(shop: Shop) -> None:
    """csv-serde.html: BOOLEAN/INT/BIGINT/DOUBLE parsed, TIMESTAMP as UNIX ms, DATE as days; else HIVE_BAD_DATA."""
    table, bad, lenient = name(), name(), name()
    put(shop, f"csv/{table}/a.csv", b'"n","ok","at","day","q"\n"1","true","1579059880000","18276","say ""hi"""\n')
    put(shop, f"csv/{bad}/a.csv", b'"1"\n""\n')
    put(shop, f"csv/{lenient}/a.csv", b'"1"\n""\n')
    serde = "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde' WITH SERDEPROPERTIES ('escapeChar'='\\\\')"
    succeeded(
        shop,
        f"CREATE EXTERNAL TABLE {table} (n bigint, ok boolean, at timestamp, day date, q string) {serde} "
        f"LOCATION 's3://{shop.bucket}/csv/{table}/' TBLPROPERTIES ('skip.header.line.count'='1')",
    )
    assert values(shop, f"SELECT n + 1, ok, at, day, q FROM {table}") == [
        ["2", "true", "2020-01-15 03:44:40.000", "2020-01-15", 'say "hi"']
    ]
    succeeded(shop, f"CREATE EXTERNAL TABLE {bad} (n int) {serde} LOCATION 's3://{shop.bucket}/csv/{bad}/'")
    assert failure(shop, f"SELECT sum(n) FROM {bad}").startswith("HIVE_BAD_DATA: Error parsing field value ''")
    succeeded(
        shop,
        f"CREATE EXTERNAL TABLE {lenient} (n int) {serde} LOCATION 's3://{shop.bucket}/csv/{lenient}/' "
        "TBLPROPERTIES ('use.null.for.invalid.data'='true')",
    )
    assert values(shop, f"SELECT n FROM {lenient} ORDER BY n") == [["1"], [None]]


def test_hive_json_serde_timestamp_formats(shop: Shop) -> None:
    """hive-json-serde.html: `timestamp.formats` Joda patterns (quotes escaped in the DDL literal), or `millis`."""
    body = b'{"at": "2024-06-01T09:09:49.902Z"}\n{"at": "1579059880000"}\n{"at": "2024-06-02 10:00:00"}\n'
    table, plain = name(), name()
    for each in (table, plain):
        put(shop, f"json/{each}/a.json", body)
    formats = "yyyy-MM-dd\\'T\\'HH:mm:ss.SSS\\'Z\\',millis"
    json_table(shop, table, "at timestamp", HIVE, f"'timestamp.formats' = '{formats}'")
    assert values(shop, f"SELECT at FROM {table} ORDER BY at") == [
        ["2020-01-15 03:44:40.000"],
        ["2024-06-01 09:09:49.902"],
        ["2024-06-02 10:00:00.000"],
    ]
    json_table(shop, plain, "at timestamp", HIVE)  # without it, ISO 8601 text is not a Hive timestamp
    assert failure(shop, f"SELECT at FROM {plain}").startswith("HIVE_BAD_DATA")


def test_gzipped_csv_is_read_and_billed_compressed(shop: Shop) -> None:
    table = name()
    packed = gzip.compress(b"1,a\n2,b\n")
    put(shop, f"csv/{table}/a.csv.gz", packed)
    succeeded(
        shop,
        f"CREATE EXTERNAL TABLE {table} (id int, v string) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' "
        f"LOCATION 's3://{shop.bucket}/csv/{table}/'",
    )
    execution = succeeded(shop, f"SELECT id, v FROM {table} ORDER BY id")
    assert result_rows(shop.athena, execution["QueryExecutionId"])[1][1:] == [["1", "a"], ["2", "b"]]
    assert execution["Statistics"]["DataScannedInBytes"] == len(packed)


def test_lazy_simple_serde_arrays_maps_and_structs(shop: Shop) -> None:
    """lazy-simple-serde.html: COLLECTION ITEMS TERMINATED BY and MAP KEYS TERMINATED BY split collection columns."""
    table = name()
    put(shop, f"csv/{table}/a.csv", b"1,a|b,x:1|y:\\N,7|blue\n2,,,|\n")
    succeeded(
        shop,
        f"CREATE EXTERNAL TABLE {table} (id int, tags array<string>, counts map<string,int>, "
        "item struct<n:int, colour:string>) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' "
        f"COLLECTION ITEMS TERMINATED BY '|' MAP KEYS TERMINATED BY ':' LOCATION 's3://{shop.bucket}/csv/{table}/'",
    )
    rows = values(
        shop,
        "SELECT id, tags, element_at(counts, 'x'), element_at(counts, 'y'), item.n, item.colour "
        f"FROM {table} ORDER BY id",
    )
    assert rows == [["1", "[a, b]", "1", None, "7", "blue"], ["2", "[]", None, None, None, ""]]


def test_ctas_converts_a_json_table_to_parquet(shop: Shop) -> None:
    """Athena's JSON-to-Parquet recipe (https://docs.aws.amazon.com/athena/latest/ug/ctas-examples.html): CTAS reads
    the whole JSON files, then the Parquet copy answers the same from its column chunks."""
    raw, parquet = name(), name()
    put(shop, f"json/{raw}/a.json", EVENTS)
    json_table(shop, raw, COLUMNS, OPENX)
    ctas = succeeded(
        shop,
        f"CREATE TABLE {parquet} WITH (format = 'PARQUET', external_location = 's3://{shop.bucket}/pq/{parquet}/') "
        f"AS SELECT event_id, type, n, device, tags FROM {raw}",
    )
    assert ctas["Statistics"]["DataScannedInBytes"] == len(EVENTS)
    question = "SELECT event_id, n, device.os, tags FROM {} ORDER BY event_id"
    assert values(shop, question.format(parquet)) == values(shop, question.format(raw))


@pytest.mark.parametrize(
    ("stored_as", "serde"),
    [("ORC", "org.apache.hadoop.hive.ql.io.orc.OrcSerde"), ("AVRO", "org.apache.hadoop.hive.serde2.avro.AvroSerDe")],
)
def test_orc_and_avro_tables_register_but_a_query_of_them_is_not_supported(shop: Shop, stored_as, serde) -> None:
    """What the README's "Table DDL" section says of STORED AS ORC|AVRO: CREATE registers them in Glue as Athena does
    (https://docs.aws.amazon.com/athena/latest/ug/create-table.html), a query fails with NOT_SUPPORTED."""
    table = name()
    succeeded(
        shop, f"CREATE EXTERNAL TABLE {table} (id int) STORED AS {stored_as} LOCATION 's3://{shop.bucket}/{table}/'"
    )
    stored = shop.glue.get_table(DatabaseName=shop.database, Name=table)["Table"]
    assert stored["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == serde
    assert failure(shop, f"SELECT id FROM {table}").startswith(
        f"NOT_SUPPORTED: localaws reads Parquet, JSON and delimited text tables only; {shop.database}.{table} is "
    )


@pytest.mark.parametrize("stored_as", ["ION", "SEQUENCEFILE", "RCFILE"])
def test_other_stored_as_formats_are_refused_at_create(shop: Shop, stored_as) -> None:
    table = name()
    reason = failure(
        shop, f"CREATE EXTERNAL TABLE {table} (id int) STORED AS {stored_as} LOCATION 's3://{shop.bucket}/x/'"
    )
    assert reason == f"NOT_SUPPORTED: localaws does not know the storage format {stored_as}"
