"""Every pyathena cursor against localaws, with only the environment pointing at it: the same answer, types included.

ArrowCursor reads result files through pyarrow's S3FileSystem, which ignores AWS_ENDPOINT_URL; kit.athena_client
.connect() routes it through the configured endpoint (see that module). Failed queries raise OperationalError.
"""

from __future__ import annotations

import datetime as dt
import decimal
import warnings

import pandas as pd
import pyarrow as pa
import pyathena
import pytest
from athena_tables import Shop
from pyathena.arrow.cursor import ArrowCursor
from pyathena.cursor import Cursor, DictCursor
from pyathena.error import OperationalError
from pyathena.pandas.cursor import PandasCursor

from kit.athena_client import connect

pytestmark = pytest.mark.localaws

QUERY = (
    "SELECT order_id, quantity, amount, created_at, CAST(created_at AS date) AS day, amount > 100 AS big, "
    "customer_name, CAST(amount AS decimal(10, 2)) AS price FROM orders WHERE dt = '2024-03-01' ORDER BY order_id"
)
COLUMNS = ["order_id", "quantity", "amount", "created_at", "day", "big", "customer_name", "price"]


@pytest.fixture(scope="module")
def shop(localaws):
    return Shop(localaws.endpoint)


@pytest.fixture
def connection(shop: Shop, localaws_env: str):
    return connect(work_group=shop.work_group, schema_name=shop.database)


def expected_rows(shop: Shop) -> list[tuple]:
    frame = shop.frames["orders"]
    frame = frame[frame.dt == "2024-03-01"].sort_values("order_id")
    return [
        (
            r.order_id,
            r.quantity,
            r.amount,
            r.created_at.to_pydatetime(),
            r.created_at.date(),
            r.amount > 100,
            None if pd.isna(r.customer_name) else r.customer_name,
            decimal.Decimal(f"{r.amount:.2f}"),
        )
        for r in frame.itertuples()
    ]


def _plain(value):
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):
        return value.item()
    return value


def test_default_cursor(shop: Shop, connection) -> None:
    cursor = connection.cursor(Cursor)
    assert cursor.execute(QUERY).fetchall() == expected_rows(shop)
    assert [d[1] for d in cursor.description] == [
        "varchar",
        "bigint",
        "double",
        "timestamp",
        "date",
        "boolean",
        "varchar",
        "decimal",
    ]


def test_dict_cursor(shop: Shop, connection) -> None:
    rows = connection.cursor(DictCursor).execute(QUERY).fetchall()
    assert rows == [dict(zip(COLUMNS, row, strict=True)) for row in expected_rows(shop)]


def test_pandas_cursor(shop: Shop, connection) -> None:
    frame = connection.cursor(PandasCursor).execute(QUERY).as_pandas()
    assert list(frame.columns) == COLUMNS
    assert str(frame["quantity"].dtype) == "Int64"
    assert str(frame["amount"].dtype) == "float64"
    assert frame["created_at"].dtype.kind == "M"
    rows = [tuple(_plain(v) for v in row) for row in frame.astype(object).itertuples(index=False, name=None)]
    expected = [(*row[:4], dt.datetime.combine(row[4], dt.time()), *row[5:]) for row in expected_rows(shop)]
    assert rows == expected


def test_arrow_cursor(shop: Shop, connection) -> None:
    table = connection.cursor(ArrowCursor).execute(QUERY).as_arrow()
    assert table.schema.field("quantity").type == pa.int64()
    assert table.schema.field("amount").type == pa.float64()
    assert pa.types.is_timestamp(table.schema.field("created_at").type)
    assert table.schema.field("day").type == pa.date32()
    assert table.schema.field("big").type == pa.bool_()
    rows = [tuple(r[c] for c in COLUMNS) for r in table.to_pylist()]
    expected = [
        (*row[:6], row[6] or "", str(row[7]))  # pyathena reads NULL varchar as '' and decimal as text here
        for row in expected_rows(shop)
    ]
    assert rows == expected


def test_pandas_read_sql(shop: Shop, connection) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas asks for SQLAlchemy; a DB-API connection works
        frame = pd.read_sql(QUERY, connection)
    assert list(frame["order_id"]) == [row[0] for row in expected_rows(shop)]
    assert list(frame["quantity"]) == [row[1] for row in expected_rows(shop)]


def test_plain_pyathena_connect_works_for_every_cursor_but_arrow(shop: Shop, localaws_env: str) -> None:
    connection = pyathena.connect(work_group=shop.work_group, schema_name=shop.database)
    assert connection.cursor(PandasCursor).execute("SELECT 1 AS x").as_pandas()["x"].tolist() == [1]


def test_failed_query_raises_operational_error(shop: Shop, connection) -> None:
    with pytest.raises(OperationalError, match="TABLE_NOT_FOUND"):
        connection.cursor().execute("SELECT * FROM not_there")
