"""The Athena API operations localaws answers itself (json protocol, X-Amz-Target AmazonAthena.<Operation>).

https://docs.aws.amazon.com/athena/latest/APIReference/API_Operations.html. Workgroups stay in moto and are read
through GetWorkGroup; the catalog operations answer from Glue, as Athena's AwsDataCatalog does.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable

from localaws import heap
from localaws.athena import dialect, names
from localaws.athena.catalog import DATA_CATALOG, split_s3_url
from localaws.athena.engine import Context, Engine
from localaws.athena.errors import QueryFailed
from localaws.athena.executions import START_WAIT_SECONDS, Execution, Executions
from localaws.athena.prepared import PreparedStatements, expand
from localaws.athena.prepared_api import PreparedStatementApi
from localaws.athena.results import ResultSet
from localaws.athena.s3_reads import moto_s3_filesystem
from localaws.athena.statements import Statements, statement_type
from localaws.athena.table_files import manifest_bytes
from localaws.server import ACCOUNT_ID, LocalAws, Request, Response, json_error, json_response

log = logging.getLogger("localaws.athena")

MAX_QUERY_LENGTH = 262144
NO_OUTPUT_LOCATION = (
    "No output location provided. An output location is required either through the Workgroup result "
    "configuration setting or as an API input."
)


def invalid(message: str) -> Response:
    return json_error("InvalidRequestException", message)


def metadata_error(message: str) -> Response:
    return json_error("MetadataException", message)


def entity_not_found() -> Response:
    """Athena's answer for a database or table Glue does not have: a MetadataException carrying Glue's error in the
    AWS SDK for Java's suffix, which clients parse (pyathena's has_table returns False on EntityNotFoundException).
    Seen from Athena: https://github.com/DyfanJones/noctua/issues/205"""
    suffix = (
        "(Service: AmazonDataCatalog; Status Code: 400; Error Code: EntityNotFoundException; "
        f"Request ID: {uuid.uuid4()}; Proxy: null)"
    )
    return metadata_error(f"Entity Not Found {suffix}")


class AthenaService:
    def __init__(self, app: LocalAws) -> None:
        self.app = app
        self.engines: dict[str, Engine] = {}
        self._engines_lock = threading.Lock()
        self.executions = Executions(self._run)
        self.prepared = PreparedStatements()
        self.prepared_api = PreparedStatementApi(
            self.prepared, lambda region, group: self.engine(region).catalog.get_work_group(group) is not None
        )

    def engine(self, region: str) -> Engine:
        with self._engines_lock:
            if region not in self.engines:
                reads = moto_s3_filesystem(ACCOUNT_ID, self.app.moto_lock)
                self.engines[region] = Engine(self.app.endpoint, region, reads)
            return self.engines[region]

    def operations(self) -> dict[str, Callable[[Request], Response]]:
        return {
            "StartQueryExecution": self.start_query_execution,
            "GetQueryExecution": self.get_query_execution,
            "BatchGetQueryExecution": self.batch_get_query_execution,
            "StopQueryExecution": self.stop_query_execution,
            "GetQueryResults": self.get_query_results,
            "ListQueryExecutions": self.list_query_executions,
            "ListDataCatalogs": self.list_data_catalogs,
            "ListDatabases": self.list_databases,
            "GetDatabase": self.get_database,
            "ListTableMetadata": self.list_table_metadata,
            "GetTableMetadata": self.get_table_metadata,
            **self.prepared_api.operations(),
        }

    # -- executions ------------------------------------------------------------------------------------------
    def start_query_execution(self, request: Request) -> Response:
        """https://docs.aws.amazon.com/athena/latest/APIReference/API_StartQueryExecution.html"""
        body = request.json()
        query = body.get("QueryString", "")
        if not 1 <= len(query) <= MAX_QUERY_LENGTH:
            return invalid(
                "queryString failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_QUERY_LENGTH}"
            )
        engine = self.engine(request.route.region)
        name = body.get("WorkGroup") or "primary"
        work_group = engine.catalog.get_work_group(name)
        if work_group is None:
            return invalid(f"WorkGroup {name} is not found.")
        if work_group.get("State") == "DISABLED":
            return invalid(f"WorkGroup {name} is disabled.")
        configuration = work_group.get("Configuration", {})
        group_output = configuration.get("ResultConfiguration", {}).get("OutputLocation")
        asked_output = body.get("ResultConfiguration", {}).get("OutputLocation")
        enforced = configuration.get("EnforceWorkGroupConfiguration", False)
        output = group_output if enforced else (asked_output or group_output)
        if not output:
            return invalid(NO_OUTPUT_LOCATION)
        context = body.get("QueryExecutionContext", {})
        kind, subkind = statement_type(query)
        execution = Execution(
            id=self.executions.new_id(),
            query=query,
            work_group=name,
            database=names.context_database(context.get("Database", "")),
            catalog=context.get("Catalog", DATA_CATALOG),
            output_location=output,
            statement_type=kind,
            substatement_type=subkind,
            region=request.route.region,
            cutoff=configuration.get("BytesScannedCutoffPerQuery"),
            parameters=list(body.get("ExecutionParameters", [])),
        )
        self.app.activity.begin()
        self.executions.submit(execution, self.app.activity.end)
        execution.done.wait(START_WAIT_SECONDS)
        return json_response({"QueryExecutionId": execution.id})

    def _execution(self, request: Request) -> Execution | Response:
        query_id = request.json().get("QueryExecutionId", "")
        execution = self.executions.get(query_id)
        if execution is None:
            return invalid(f"QueryExecution {query_id} was not found")
        return execution

    def get_query_execution(self, request: Request) -> Response:
        found = self._execution(request)
        if isinstance(found, Response):
            return found
        return json_response({"QueryExecution": found.shape()})

    def batch_get_query_execution(self, request: Request) -> Response:
        found, missing = [], []
        for query_id in request.json().get("QueryExecutionIds", []):
            execution = self.executions.get(query_id)
            if execution is None:
                missing.append(
                    {"QueryExecutionId": query_id, "ErrorCode": "INVALID_INPUT", "ErrorMessage": "not found"}
                )
            else:
                found.append(execution.shape())
        return json_response({"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing})

    def stop_query_execution(self, request: Request) -> Response:
        found = self._execution(request)
        if isinstance(found, Response):
            return found
        self.executions.stop(found)
        return json_response({})

    def get_query_results(self, request: Request) -> Response:
        """https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html"""
        found = self._execution(request)
        if isinstance(found, Response):
            return found
        body = request.json()
        if found.state in ("QUEUED", "RUNNING"):
            return invalid(f"Query has not yet finished. Current state: {found.state}")
        if found.state != "SUCCEEDED" or found.result is None:
            return invalid(f"Query did not finish successfully. Final query state: {found.state}")
        size = int(body.get("MaxResults", 1000))
        if not 1 <= size <= 1000:
            return invalid("MaxResults must be between 1 and 1000")
        token = body.get("NextToken")
        start = int(token) if token and token.isdigit() else 0
        rows = found.result.api_rows()
        page = {
            "UpdateCount": found.update_count or 0,
            "ResultSet": {
                "Rows": rows[start : start + size],
                "ResultSetMetadata": {"ColumnInfo": found.result.columns},
            },
        }
        if start + size < len(rows):
            page["NextToken"] = str(start + size)
        return json_response(page)

    def list_query_executions(self, request: Request) -> Response:
        body = request.json()
        group = body.get("WorkGroup") or "primary"
        if self.engine(request.route.region).catalog.get_work_group(group) is None:
            # https://docs.aws.amazon.com/athena/latest/APIReference/API_ListQueryExecutions.html
            return invalid(f"WorkGroup {group} is not found.")
        ids = [e.id for e in self.executions.all() if e.work_group == group and e.region == request.route.region]
        size = int(body.get("MaxResults", 50))
        token = body.get("NextToken")
        start = int(token) if token and token.isdigit() else 0
        page: dict = {"QueryExecutionIds": ids[start : start + size]}
        if start + size < len(ids):
            page["NextToken"] = str(start + size)
        return json_response(page)

    def forget_deleted_work_group(self, request: Request, response: Response) -> None:
        """After DeleteWorkGroup: the workgroup's query executions go with it, as in Athena, where a deleted
        workgroup's history cannot be listed or read. https://docs.aws.amazon.com/athena/latest/APIReference/API_DeleteWorkGroup.html"""
        name = request.json().get("WorkGroup", "")
        forgotten = self.executions.forget_work_group(name, request.route.region)
        self.prepared.forget_work_group(request.route.region, name)
        if forgotten:
            log.info("athena workgroup %s deleted with %d query execution(s)", name, forgotten)

    # -- the worker ------------------------------------------------------------------------------------------
    def _run(self, execution: Execution) -> None:
        engine = self.engine(execution.region)
        cursor = engine.cursor()
        execution.cursor = cursor
        try:
            context = Context(execution.database or "default", execution.cutoff)
            query, result = expand(
                execution.query, execution.parameters, self.prepared, execution.region, execution.work_group
            )
            if query is not None:
                result = Statements(engine).run(query, context, cursor, execution.id, execution.output_location)
            if result is not None:
                execution.bytes_scanned = context.bytes_scanned
                execution.update_count = context.update_count
                if context.data_files is not None:
                    self._write_manifest(engine, execution, context.data_files)
            else:
                tree = dialect.parse(query.strip().rstrip(";"))
                if not _is_query(tree):
                    raise QueryFailed(f"NOT_SUPPORTED: localaws does not run this statement: {tree.key.upper()}")
                outcome = engine.run(tree, context, cursor)
                execution.bytes_scanned = outcome.bytes_scanned
                result = ResultSet.from_arrow(outcome.table)
            self._write(engine, execution, result)
            execution.result = result
        finally:
            cursor.close()
            heap.release_free_pages()  # what the query freed on its threads stays resident otherwise (heap.py)

    @staticmethod
    def _write_manifest(engine: Engine, execution: Execution, files: list[str]) -> None:
        """<OutputLocation>/<id>-manifest.csv, the files a CTAS, INSERT INTO or UNLOAD wrote (Statistics'
        DataManifestLocation). https://docs.aws.amazon.com/athena/latest/ug/querying.html#querying-identifying-output-files
        """
        key = f"{execution.output_location.rstrip('/')}/{execution.id}-manifest.csv"
        bucket, path = split_s3_url(key)
        try:
            engine.catalog.s3.put_object(Bucket=bucket, Key=path, Body=manifest_bytes(files))
        except engine.catalog.s3.exceptions.NoSuchBucket:
            raise QueryFailed(f"Unable to verify/create output bucket {bucket}", error_type=1003) from None
        execution.manifest_location = key

    @staticmethod
    def _write(engine: Engine, execution: Execution, result: ResultSet) -> None:
        """<OutputLocation>/<id>.csv (or .txt) and its .metadata, as Athena writes them."""
        key = f"{execution.output_location.rstrip('/')}/{execution.id}.{result.extension}"
        bucket, path = split_s3_url(key)
        try:
            engine.catalog.s3.put_object(Bucket=bucket, Key=path, Body=result.csv_bytes())
            engine.catalog.s3.put_object(Bucket=bucket, Key=f"{path}.metadata", Body=result.metadata_bytes())
        except engine.catalog.s3.exceptions.NoSuchBucket:
            raise QueryFailed(f"Unable to verify/create output bucket {bucket}", error_type=1003) from None
        execution.result_file = key

    # -- the catalog (AwsDataCatalog = Glue) ----------------------------------------------------------------
    def list_data_catalogs(self, request: Request) -> Response:
        return json_response({"DataCatalogsSummary": [{"CatalogName": DATA_CATALOG, "Type": "GLUE"}]})

    def _check_catalog(self, body: dict) -> Response | None:
        name = body.get("CatalogName", DATA_CATALOG)
        if name.lower() != DATA_CATALOG.lower():
            return metadata_error(f"Catalog {name} not found.")
        return None

    def list_databases(self, request: Request) -> Response:
        body = request.json()
        error = self._check_catalog(body)
        if error:
            return error
        databases = [_database(d) for d in self.engine(request.route.region).catalog.get_databases()]
        return json_response(_page(body, "DatabaseList", databases))

    def get_database(self, request: Request) -> Response:
        body = request.json()
        error = self._check_catalog(body)
        if error:
            return error
        database = self.engine(request.route.region).catalog.get_database(body.get("DatabaseName", ""))
        if database is None:
            return entity_not_found()
        return json_response({"Database": _database(database)})

    def list_table_metadata(self, request: Request) -> Response:
        body = request.json()
        error = self._check_catalog(body)
        if error:
            return error
        catalog = self.engine(request.route.region).catalog
        name = body.get("DatabaseName", "")
        if catalog.get_database(name) is None:
            return entity_not_found()
        tables = [_table_metadata(t) for t in catalog.get_tables(name)]
        expression = body.get("Expression")
        if expression:
            pattern = re.compile("^" + expression.replace("*", ".*") + "$", re.I)
            tables = [t for t in tables if pattern.match(t["Name"])]
        return json_response(_page(body, "TableMetadataList", tables))

    def get_table_metadata(self, request: Request) -> Response:
        body = request.json()
        error = self._check_catalog(body)
        if error:
            return error
        table = self.engine(request.route.region).catalog.get_table(
            body.get("DatabaseName", ""), body.get("TableName", ""), with_partitions=False
        )
        if table is None:
            return entity_not_found()
        return json_response({"TableMetadata": _table_metadata(table.raw)})


def _is_query(tree) -> bool:
    from sqlglot import exp

    return isinstance(tree, exp.Query)


def _page(body: dict, key: str, items: list) -> dict:
    size = int(body.get("MaxResults", 50))
    token = body.get("NextToken")
    start = int(token) if token and token.isdigit() else 0
    page: dict = {key: items[start : start + size]}
    if start + size < len(items):
        page["NextToken"] = str(start + size)
    return page


def _database(raw: dict) -> dict:
    shape = {"Name": raw["Name"], "Parameters": raw.get("Parameters", {})}
    if raw.get("Description"):
        shape["Description"] = raw["Description"]
    return shape


def _table_metadata(raw: dict) -> dict:
    """https://docs.aws.amazon.com/athena/latest/APIReference/API_TableMetadata.html"""
    columns = raw.get("StorageDescriptor", {}).get("Columns", [])
    shape = {
        "Name": raw["Name"],
        "TableType": raw.get("TableType", "EXTERNAL_TABLE"),
        "Columns": [
            {"Name": c["Name"], "Type": c["Type"], **({"Comment": c["Comment"]} if c.get("Comment") else {})}
            for c in columns
        ],
        "PartitionKeys": [{"Name": c["Name"], "Type": c["Type"]} for c in raw.get("PartitionKeys", [])],
        "Parameters": raw.get("Parameters", {}),
    }
    created = raw.get("CreateTime")
    if created is not None:
        shape["CreateTime"] = created.timestamp() if hasattr(created, "timestamp") else created
    return shape
