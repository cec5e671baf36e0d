"""awswrangler and SQLAlchemy (pyathena's dialect) against localaws, as a user runs them: only AWS_ENDPOINT_URL points
them there. Run by tests/clients/test_clients.py in .venv-clients-wrangler; argv[1] is a JSON document describing the
shop (database, bucket, work group, output, expected counts). Prints one line per check; exits 1 if any failed.
"""

from __future__ import annotations

import json
import sys
import traceback

import awswrangler as wr
import pandas as pd
import sqlalchemy
from sqlalchemy import Column, Integer, MetaData, String, Table, inspect, select

SHOP = json.loads(sys.argv[1])
DB, WG, BUCKET = SHOP["database"], SHOP["work_group"], SHOP["bucket"]
CHECKS = []


def check(function):
    CHECKS.append(function)
    return function


@check
def read_sql_query_ctas_approach():
    frame = wr.athena.read_sql_query("SELECT order_id, amount, dt FROM orders", database=DB, workgroup=WG)
    assert len(frame) == SHOP["orders"], frame
    assert list(frame.columns) == ["order_id", "amount", "dt"]


@check
def read_sql_query_plain():
    frame = wr.athena.read_sql_query("SELECT count(*) AS n FROM orders", database=DB, workgroup=WG, ctas_approach=False)
    assert frame["n"].tolist() == [SHOP["orders"]]


@check
def read_sql_query_unload_approach():
    frame = wr.athena.read_sql_query(
        "SELECT order_id, status FROM orders",
        database=DB,
        workgroup=WG,
        ctas_approach=False,
        unload_approach=True,
        s3_output=f"s3://{BUCKET}/unload/wrangler/",
    )
    assert len(frame) == SHOP["orders"]


@check
def read_sql_query_with_execution_parameters():
    frame = wr.athena.read_sql_query(
        "SELECT count(*) AS n FROM orders WHERE status = ?",
        database=DB,
        workgroup=WG,
        ctas_approach=False,
        params=["'paid'"],  # Athena substitutes each value as SQL: a string in quotes
        paramstyle="qmark",
    )
    assert frame["n"].tolist() == [SHOP["paid"]]


@check
def catalog_calls_with_quoted_database():
    described = wr.athena.describe_table(table="orders", database=DB, workgroup=WG)
    assert "order_id" in described["Column Name"].tolist()
    assert "CREATE EXTERNAL TABLE" in wr.athena.show_create_table(table="orders", database=DB, workgroup=WG)
    wr.athena.repair_table(table="orders", database=DB, workgroup=WG)


@check
def search_tables():
    found = [t["Name"] for t in wr.catalog.search_tables(text="orders") if t["DatabaseName"] == DB]
    assert "orders" in found


@check
def create_ctas_table_partitioned_and_bucketed():
    result = wr.athena.create_ctas_table(
        sql="SELECT order_id, customer_id, amount, dt FROM orders",
        database=DB,
        ctas_table="orders_copy",
        partitioning_info=["dt"],
        bucketing_info=(["customer_id"], 2),
        workgroup=WG,
        wait=True,
    )
    assert result["ctas_table"] == "orders_copy"
    frame = wr.athena.read_sql_query("SELECT count(*) AS n FROM orders_copy", database=DB, workgroup=WG)
    assert frame["n"].tolist() == [SHOP["orders"]]


@check
def to_parquet_then_read_back():
    frame = pd.DataFrame({"id": [1, 2, 3], "day": ["a", "a", "b"]})
    wr.s3.to_parquet(frame, f"s3://{BUCKET}/wr/ids/", dataset=True, database=DB, table="ids", partition_cols=["day"])
    back = wr.athena.read_sql_query("SELECT sum(id) AS s FROM ids", database=DB, workgroup=WG)
    assert back["s"].tolist() == [6]


@check
def to_csv_dataset_then_read_back():
    frame = pd.DataFrame({"id": [1, 2, 3], "name": ["a", None, "c"]})
    wr.s3.to_csv(frame, f"s3://{BUCKET}/wr/csv_ids/", dataset=True, database=DB, table="csv_ids", index=False)
    back = wr.athena.read_sql_query(
        "SELECT sum(id) AS s, count_if(name = '') AS empty FROM csv_ids", database=DB, workgroup=WG
    )
    # LazySimpleSerDe reads an empty field of a string column as '' (only \N is NULL), as Athena does
    assert back["s"].tolist() == [6] and back["empty"].tolist() == [1], back


def engine():
    url = f"awsathena+rest://:@athena.us-east-1.amazonaws.com:443/{DB}?s3_staging_dir={SHOP['output']}&work_group={WG}"
    return sqlalchemy.create_engine(url)


@check
def sqlalchemy_inspection():
    inspector = inspect(engine())
    assert inspector.has_table("orders") is True
    assert inspector.has_table("nope") is False
    assert "order_id" in [c["name"] for c in inspector.get_columns("orders")]


@check
def sqlalchemy_reflected_table_select():
    orders = Table("orders", MetaData(), schema=DB, autoload_with=engine())
    query = select(orders.c.order_id).where(orders.c.dt == "2024-03-01")
    with engine().connect() as connection:
        rows = connection.execute(query).fetchall()
    assert len(rows) == SHOP["orders_2024_03_01"]
    frame = pd.read_sql(select(orders.c.status), engine())
    assert len(frame) == SHOP["orders"]


@check
def sqlalchemy_create_insert_select_drop():
    metadata = MetaData()
    made = Table(
        "sa_made",
        metadata,
        Column("id", Integer),
        Column("name", String),
        schema=DB,
        awsathena_location=f"s3://{BUCKET}/sa_made/",
        awsathena_file_format="PARQUET",
    )
    metadata.create_all(engine())
    with engine().begin() as connection:
        connection.execute(made.insert(), [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    with engine().connect() as connection:
        rows = connection.execute(select(made.c.id, made.c.name).order_by(made.c.id)).fetchall()
    assert [tuple(r) for r in rows] == [(1, "a"), (2, "b")]
    metadata.drop_all(engine())
    assert inspect(engine()).has_table("sa_made") is False


def main() -> int:
    failed = 0
    for function in CHECKS:
        try:
            function()
        except Exception:  # a client suite reports every check, then fails as a whole
            failed += 1
            print(f"FAIL {function.__name__}\n{traceback.format_exc()}", flush=True)
        else:
            print(f"ok   {function.__name__}", flush=True)
    print(f"wrangler suite: {len(CHECKS) - failed} ok, {failed} failing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
