"""Run one SELECT the way Athena does: resolve Glue tables and views, prune partitions, check footers, bill bytes,
then execute the translated SQL on DuckDB over pyarrow datasets read from moto's S3 store in-process (s3_reads.py).

Steps for a query:
1. parse (Trino), expand views stored in Glue into subqueries;
2. resolve each table in Glue (TABLE_NOT_FOUND otherwise) with its registered (or projected: projection.py) partitions;
3. find the columns each table's query reads, the partitions its WHERE keeps and, when it names "$path" and the like
   (pseudo_columns.py), the files;
4. Parquet: read those files' footers, HIVE_BAD_DATA on a conflicting type, bytes scanned from the projected chunks;
   JSON and delimited text (json_tables.py, text_tables.py): read the files whole, bytes scanned their full size;
5. refuse a scan over the workgroup's BytesScannedCutoffPerQuery;
6. register each table as a dataset, rewrite the table names, run on a DuckDB cursor, return an Arrow table.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

from localaws.athena import dialect, projection, pseudo_columns
from localaws.athena.athena_types import arrow_to_athena
from localaws.athena.catalog import Catalog, Table
from localaws.athena.cost import DataFile, FooterCache, build_scan, list_files, partition_values
from localaws.athena.errors import QueryCancelled, QueryFailed, position
from localaws.athena.json_tables import build_json_scan, is_json_table
from localaws.athena.text_tables import build_text_scan, is_text_table

log = logging.getLogger("localaws.athena")
MAX_VIEW_DEPTH = 16


@dataclass
class Context:
    """One statement's settings, and what a writing statement reports back (rows written, files, bytes read)."""

    database: str = "default"
    cutoff_bytes: int | None = None
    update_count: int | None = None
    data_files: list[str] | None = None  # listed in <query id>-manifest.csv
    bytes_scanned: int = 0


@dataclass
class Outcome:
    table: pa.Table
    bytes_scanned: int = 0
    files: int = 0


@dataclass
class _Reads:
    """What one table's references read: columns, and per reference the partitions kept (None = all)."""

    table: Table
    columns: set[str] = field(default_factory=set)
    partition_filters: list[list[str] | None] = field(default_factory=list)
    file_filters: list[list[str] | None] = field(default_factory=list)  # on "$path", "$file_size", ...
    all_columns: bool = False


class Engine:
    def __init__(self, endpoint: str, region: str, reads: pafs.FileSystem | None = None) -> None:
        """`reads`: where scans open files (s3_reads.py: moto's store in-process); the S3 API by default."""
        self.catalog = Catalog(endpoint, region)
        self.fs = pafs.S3FileSystem(
            endpoint_override=endpoint.split("://", 1)[-1],
            scheme="http",
            access_key="test",
            secret_key="test",
            region=region,
        )
        self.scan_fs = reads or self.fs
        self.database = dialect.connect()
        self.footers = FooterCache()
        self.io = ThreadPoolExecutor(8, thread_name_prefix="athena-io")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = self.database.cursor()
        dialect.configure_cursor(cursor)
        return cursor

    # -- catalog resolution ----------------------------------------------------------------------------------
    def resolve(self, tree: exp.Expression, context: Context) -> dict[tuple[str, str], Table]:
        """Expand views in place and return the base tables, keyed (database, name); each Table node gets its db."""
        tables: dict[tuple[str, str], Table] = {}
        for _ in range(MAX_VIEW_DEPTH):
            expanded = False
            ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
            for node in list(tree.find_all(exp.Table)):
                if not node.name or (not node.db and node.name.lower() in ctes):
                    continue
                catalog_name = node.catalog.lower()
                if catalog_name and catalog_name != "awsdatacatalog":
                    raise QueryFailed(f"CATALOG_NOT_FOUND: {position(node)}Catalog '{catalog_name}' does not exist")
                database = (node.db or context.database).lower()
                key = (database, node.name.lower())
                table = tables.get(key) or self.catalog.get_table(*key)
                if table is None:
                    raise QueryFailed(
                        f"TABLE_NOT_FOUND: {position(node)}Table 'awsdatacatalog.{key[0]}.{key[1]}' does not exist"
                    )
                if table.is_view:
                    inner = dialect.parse(table.view_sql)
                    inner_ctes = {cte.alias_or_name.lower() for cte in inner.find_all(exp.CTE)}
                    for inner_table in inner.find_all(exp.Table):
                        if inner_table.name and not inner_table.db and inner_table.name.lower() not in inner_ctes:
                            inner_table.set("db", exp.to_identifier(table.database))
                    alias = node.alias or node.name
                    node.replace(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(alias))))
                    expanded = True
                    continue
                node.set("db", exp.to_identifier(database))
                node.set("catalog", None)
                tables[key] = table
            if not expanded:
                return tables
        raise QueryFailed("VIEW_IS_RECURSIVE: View nesting is too deep")

    # -- what each table's references read ---------------------------------------------------------------------
    def reads(
        self, tree: exp.Expression, tables: dict[tuple[str, str], Table], hidden: bool = False
    ) -> dict[tuple[str, str], _Reads]:
        reads = {key: _Reads(table) for key, table in tables.items()}
        schema: dict[str, dict[str, dict[str, str]]] = {}
        extra = list(pseudo_columns.TYPES) if hidden else []
        for (database, name), table in tables.items():
            schema.setdefault(database, {})[name] = {n: "VARCHAR" for n in [*table.schema.names, *extra]}
        try:
            qualified = qualify(tree.copy(), schema=schema, dialect="trino", validate_qualify_columns=False)
            scopes = traverse_scope(qualified)
        except (OptimizeError, SqlglotError) as error:
            log.debug("cannot analyse columns (%s): reading every column and partition", error)
            for entry in reads.values():
                entry.all_columns = True
                entry.partition_filters.append(None)
                entry.file_filters.append(None)
            return reads
        for scope in scopes:
            for alias, source in scope.sources.items():
                if not isinstance(source, exp.Table):
                    continue
                key = (source.db.lower(), source.name.lower())
                if key not in reads:
                    continue
                entry = reads[key]
                entry.columns |= {c.name.lower() for c in scope.columns if c.table == alias}
                partition_names = {k["Name"].lower() for k in entry.table.partition_keys}
                entry.partition_filters.append(_conjuncts(scope.expression, alias, partition_names))
                entry.file_filters.append(_conjuncts(scope.expression, alias, set(extra)))
        for entry in reads.values():
            if not entry.partition_filters:
                entry.partition_filters.append(None)
            if not entry.file_filters:
                entry.file_filters.append(None)
        return reads

    def select_partitions(self, cursor: duckdb.DuckDBPyConnection, entry: _Reads) -> list[tuple[dict[str, str], str]]:
        """The partitions the query reads, as (values by column, folder): the registered ones, or with partition
        projection the computed ones (projection.py), kept where the query's partition filters hold."""
        table = entry.table
        if not table.partition_keys:
            return [({}, table.location)]
        if projection.enabled(table):
            candidates = projection.partitions(table, entry.partition_filters)
        else:
            candidates = [
                (partition_values(table, p), p.get("StorageDescriptor", {}).get("Location", ""))
                for p in table.partitions
            ]
        if any(f is None or not f for f in entry.partition_filters) or not candidates:
            return candidates
        names = [k["Name"].lower() for k in table.partition_keys]
        columns = {
            n: pa.array([values.get(n) for values, _ in candidates]).cast(table.schema.field(n).type) for n in names
        }
        table_of_candidates = pa.table({**columns, "__index": pa.array(range(len(candidates)))})
        kept: set[int] = set()
        cursor.register("__partitions", table_of_candidates)
        try:
            for conjuncts in entry.partition_filters:
                where = " AND ".join(f"({c})" for c in conjuncts)
                rows = cursor.execute(f"SELECT __index FROM __partitions WHERE {where}").fetchall()
                kept |= {row[0] for row in rows}
        except duckdb.Error as error:
            log.debug("partition filter not evaluable (%s): reading every partition", error)
            return candidates
        finally:
            cursor.unregister("__partitions")
        return [candidates[i] for i in sorted(kept)]

    def files(self, partitions: list[tuple[dict[str, str], str]]) -> list[DataFile]:
        jobs = [self.io.submit(list_files, self.catalog.s3, location, values) for values, location in partitions]
        return [file for job in jobs for file in job.result()]

    # -- the query ---------------------------------------------------------------------------------------------
    def run(
        self, tree: exp.Expression, context: Context, cursor: duckdb.DuckDBPyConnection, explain: bool = False
    ) -> Outcome:
        tree = tree.copy()
        tables = self.resolve(tree, context)
        _unqualify_columns(tree, tables)
        hidden = pseudo_columns.named(tree)
        reads = self.reads(tree, tables, hidden)
        names: dict[tuple[str, str], str] = {}
        total_bytes = total_files = 0
        scans = []
        for index, (key, entry) in enumerate(reads.items()):
            table = entry.table
            text, json_text = is_text_table(table), is_json_table(table)
            if "parquet" not in _storage_format(table) and not text and not json_text:
                raise QueryFailed(
                    f"NOT_SUPPORTED: localaws reads Parquet, JSON and delimited text tables only; {key[0]}.{key[1]} "
                    f"is {_storage_format(table) or 'of an unknown format'}"
                )
            columns = {f.name for f in table.schema} if entry.all_columns else entry.columns
            files = self.files(self.select_partitions(cursor, entry))
            if hidden:
                files = _select_files(cursor, files, entry.file_filters)
            if text:
                scan = build_text_scan(table, files, self.scan_fs, hidden)
            elif json_text:
                scan = build_json_scan(table, files, self.scan_fs, hidden)
            else:
                scan = build_scan(table, files, columns, self.scan_fs, self.footers, hidden)
            total_bytes += scan.bytes_scanned
            total_files += scan.files
            names[key] = f"__athena_t{index}"
            scans.append((names[key], scan))
        if context.cutoff_bytes is not None and total_bytes > context.cutoff_bytes:
            raise QueryFailed("Query cancelled! : Bytes scanned limit was exceeded", error_type=1107)
        for name, scan in scans:
            cursor.register(name, scan.dataset)
        for node in list(tree.find_all(exp.Table)):
            key = (node.db.lower(), node.name.lower())
            if node.db and key in names:
                alias = node.alias or node.name
                node.replace(
                    exp.Table(
                        this=exp.to_identifier(names[key]),
                        alias=node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(alias)),
                    )
                )
        _name_unnamed_columns(tree)
        extra = pseudo_columns.fields() if hidden else []
        if hidden:
            pseudo_columns.hide_from_stars(tree, set(names.values()))
        schema = {
            names[key]: {f.name: arrow_to_athena(f.type) for f in [*entry.table.schema, *extra]}
            for key, entry in reads.items()
        }
        sql = dialect.to_duckdb(tree, schema)
        log.debug("duckdb: %s", sql)
        if explain:
            plan = execute(cursor, "EXPLAIN " + sql, tree)
            lines = [line for text in plan.column(plan.num_columns - 1).to_pylist() for line in text.splitlines()]
            return Outcome(pa.table({"Query Plan": pa.array(lines, pa.string())}), 0, total_files)
        table = execute(cursor, sql, tree)
        return Outcome(table, total_bytes, total_files)


def _unqualify_columns(tree: exp.Expression, tables: dict[tuple[str, str], Table]) -> None:
    """`db.table.column` (SQLAlchemy renders reflected columns so) -> `table.column`: Trino resolves a column through
    its table's full name, DuckDB only through the table's alias, which is the table's name here."""
    for column in tree.find_all(exp.Column):
        database = column.args.get("db")
        if database is not None and column.table and (database.name.lower(), column.table.lower()) in tables:
            column.set("db", None)
            column.set("catalog", None)


def _name_unnamed_columns(tree: exp.Expression) -> None:
    """Athena names a result column without an alias _col<position> (count(*) -> _col0)."""
    outer = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    if outer is None:
        return
    for index, item in enumerate(outer.expressions):
        if not isinstance(item, (exp.Alias, exp.Column, exp.Star)):
            item.replace(exp.alias_(item.copy(), f"_col{index}"))


def _storage_format(table: Table) -> str:
    descriptor = table.raw.get("StorageDescriptor", {})
    serde = descriptor.get("SerdeInfo", {}).get("SerializationLibrary", "")
    text = f"{descriptor.get('InputFormat', '')} {serde} {table.raw.get('Parameters', {}).get('classification', '')}"
    return text.lower()


def _conjuncts(select: exp.Expression, alias: str, names: set[str]) -> list[str] | None:
    """The WHERE terms of a scope that only test this source's columns in `names` (its partition columns, or its
    pseudo-columns), as DuckDB SQL over bare names."""
    where = select.args.get("where") if isinstance(select, exp.Select) else None
    if where is None or not names:
        return None
    kept = []
    for term in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
        columns = list(term.find_all(exp.Column))
        if not columns or term.find(exp.Subquery, exp.Select):
            continue
        if all(c.table == alias and c.name.lower() in names for c in columns):
            bare = term.copy().transform(
                lambda n: exp.column(n.name, quoted=n.name.startswith("$")) if isinstance(n, exp.Column) else n
            )
            kept.append(dialect.to_duckdb(bare))
    return kept or None


def _select_files(cursor: duckdb.DuckDBPyConnection, files: list[DataFile], filters: list[list[str] | None]):
    """The files whose pseudo-columns pass every reference's `"$path"`/`"$file_size"` filters: Athena reads no other
    file, so no other file's bytes are billed."""
    if not files or any(not f for f in filters):
        return files
    columns = {
        name: pa.array([pseudo_columns.values(f)[name] for f in files], t) for name, t in pseudo_columns.TYPES.items()
    }
    cursor.register("__files", pa.table({**columns, "__index": pa.array(range(len(files)))}))
    kept: set[int] = set()
    try:
        for conjuncts in filters:
            where = " AND ".join(f"({c})" for c in conjuncts)
            kept |= {row[0] for row in cursor.execute(f"SELECT __index FROM __files WHERE {where}").fetchall()}
    except duckdb.Error as error:
        log.debug("file filter not evaluable (%s): reading every file", error)
        return files
    finally:
        cursor.unregister("__files")
    return [files[i] for i in sorted(kept)]


_DUCKDB_COLUMN = re.compile(r'Referenced column "?([^"\s]+)"? not found')
_DUCKDB_AMBIGUOUS = re.compile(r'Ambiguous reference to column name "([^"]+)"')
_DUCKDB_FUNCTION = re.compile(r"(?:Scalar|Aggregate|Table) Function with name \"?(\w+)\"? does not exist")


def execute(cursor: duckdb.DuckDBPyConnection, sql: str, tree: exp.Expression) -> pa.Table:
    """Run on DuckDB; map its errors to Athena's; HUGEINT sums come back as Athena's bigint."""
    try:
        relation = cursor.sql(sql)
        types = [str(t) for t in relation.types]
        table = relation.to_arrow_table()
    except duckdb.InterruptException:
        raise QueryCancelled() from None
    except duckdb.BinderException as error:
        raise QueryFailed(_binder_message(str(error), tree)) from None
    except duckdb.CatalogException as error:
        match = _DUCKDB_FUNCTION.search(str(error))
        if match:
            name = match[1].lower()
            node = next((f for f in tree.find_all(exp.Func) if f.sql_name().lower() == name), None)
            where = position(node) if node is not None else ""
            raise QueryFailed(f"FUNCTION_NOT_FOUND: {where}Function '{name}' not registered") from None
        raise QueryFailed(f"GENERIC_USER_ERROR: {_first_line(error)}") from None
    except (duckdb.ConversionException, duckdb.InvalidInputException, duckdb.OutOfRangeException) as error:
        text = _first_line(error)
        if "ArrowInvalid" in text or "Unsupported cast" in text:
            raise QueryFailed(f"HIVE_BAD_DATA: {text}", error_type=1002) from None
        if isinstance(error, duckdb.ConversionException) and not _UDF_ERROR.match(text):
            raise QueryFailed(f"INVALID_CAST_ARGUMENT: {text}") from None
        raise QueryFailed(_function_error(text)) from None
    except duckdb.Error as error:
        raise QueryFailed(f"GENERIC_INTERNAL_ERROR: {_first_line(error)}", category=1) from None
    for index, type_name in enumerate(types):
        if type_name in ("HUGEINT", "UHUGEINT", "UBIGINT"):
            column = pc.cast(table.column(index), pa.int64(), safe=False)
            table = table.set_column(index, table.schema.field(index).name, column)
    return table


_UDF_ERROR = re.compile(r"^Python exception occurred while executing the UDF: (?:\w+\.)*(\w+): ")
_ERROR_NAME = re.compile(r"^[A-Z][A-Z_]+: ")


# DuckDB's checked integer and decimal arithmetic; Trino fails the same operations with NUMERIC_VALUE_OUT_OF_RANGE.
_OVERFLOW = re.compile(
    r"^Overflow in (addition|subtraction|multiplication|division) of (?:(INT8|INT16|INT32|INT64|DECIMAL\(\d+\)) )?"
    r"\(?(.*?)\)?!?$"
)
_INTEGER_NAMES = {"INT8": "tinyint ", "INT16": "smallint ", "INT32": "integer ", "INT64": "bigint "}


def _function_error(text: str) -> str:
    """Athena's message for a function that failed at run time: the translation's own error name if it gave one
    (error('INVALID_CAST_ARGUMENT: ...')), DIVISION_BY_ZERO, else INVALID_FUNCTION_ARGUMENT."""
    match = _UDF_ERROR.match(text)
    if match:
        text = text[match.end() :]
        if match[1] == "DivisionByZeroError":
            return f"DIVISION_BY_ZERO: {text}"
    if text.startswith("Division by zero"):
        return "DIVISION_BY_ZERO: Division by zero"
    overflow = _OVERFLOW.match(text)
    if overflow:  # Trino: "integer addition overflow: 2147483647 + 1"
        kind = _INTEGER_NAMES.get(overflow[2] or "", "decimal " if overflow[2] else "")
        return f"NUMERIC_VALUE_OUT_OF_RANGE: {kind}{overflow[1]} overflow: {overflow[3]}"
    if text.startswith("Overflow on abs("):
        return f"NUMERIC_VALUE_OUT_OF_RANGE: {text}"
    return text if _ERROR_NAME.match(text) else f"INVALID_FUNCTION_ARGUMENT: {text}"


def _binder_message(text: str, tree: exp.Expression) -> str:
    ambiguous = _DUCKDB_AMBIGUOUS.search(text)
    if ambiguous:
        # Trino's SemanticExceptions.ambiguousAttributeException: AMBIGUOUS_NAME, "Column '%s' is ambiguous"
        name = ambiguous[1]
        node = next((c for c in tree.find_all(exp.Column) if not c.table and c.name.lower() == name.lower()), None)
        where = position(node) if node is not None else ""
        return f"AMBIGUOUS_NAME: {where}Column '{name}' is ambiguous"
    match = _DUCKDB_COLUMN.search(text)
    if match:
        name = match[1].split(".")[-1]
        node = next((c for c in tree.find_all(exp.Column) if c.name.lower() == name.lower()), None)
        where = position(node) if node is not None else ""
        return (
            f"COLUMN_NOT_FOUND: {where}Column '{name}' cannot be resolved or requester is not authorized to "
            "access requested resources"
        )
    return f"SYNTAX_ERROR: {_first_line_text(text)}"


def _first_line(error: Exception) -> str:
    return _first_line_text(str(error))


def _first_line_text(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return re.sub(r"^(Binder|Catalog|Conversion|Invalid Input|Parser|Out of Range) Error: ", "", line)
