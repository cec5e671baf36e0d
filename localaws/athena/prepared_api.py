"""The prepared-statement API: Create, Get, List, Update and DeletePreparedStatement, per workgroup.

https://docs.aws.amazon.com/athena/latest/APIReference/API_CreatePreparedStatement.html (and Get/List/Update/Delete):
a missing workgroup is InvalidRequestException, a missing statement ResourceNotFoundException.
"""

from __future__ import annotations

from collections.abc import Callable

from localaws.athena.prepared import NAME, PreparedStatement, PreparedStatements
from localaws.server import Request, Response, json_error, json_response

MAX_LIST = 50


class PreparedStatementApi:
    def __init__(self, store: PreparedStatements, work_group_exists: Callable[[str, str], bool]) -> None:
        self.store = store
        self._work_group_exists = work_group_exists

    def operations(self) -> dict[str, Callable[[Request], Response]]:
        return {
            "CreatePreparedStatement": self.create,
            "GetPreparedStatement": self.get,
            "ListPreparedStatements": self.list,
            "UpdatePreparedStatement": self.update,
            "DeletePreparedStatement": self.delete,
        }

    def _check(self, request: Request, named: bool = True) -> tuple[dict, Response | None]:
        body = request.json()
        group = body.get("WorkGroup", "")
        if not self._work_group_exists(request.route.region, group):
            return body, json_error("InvalidRequestException", f"WorkGroup {group} is not found.")
        if named and not NAME.fullmatch(body.get("StatementName", "")):
            return body, json_error(
                "InvalidRequestException",
                "1 validation error detected: Value at 'statementName' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: [a-zA-Z_][a-zA-Z0-9_@:]{1,256}",
            )
        return body, None

    def _missing(self, body: dict) -> Response:
        return json_error(
            "ResourceNotFoundException",
            f"Prepared statement {body.get('StatementName')} does not exist in workgroup {body.get('WorkGroup')}",
        )

    def create(self, request: Request) -> Response:
        body, error = self._check(request)
        if error:
            return error
        region, group, name = request.route.region, body["WorkGroup"], body["StatementName"]
        if self.store.get(region, group, name) is not None:
            return json_error("InvalidRequestException", f"Prepared statement {name} already exists")
        statement = PreparedStatement(name, group, body.get("QueryStatement", ""), body.get("Description", ""))
        self.store.put(region, statement)
        return json_response({})

    def get(self, request: Request) -> Response:
        body, error = self._check(request)
        if error:
            return error
        statement = self.store.get(request.route.region, body["WorkGroup"], body["StatementName"])
        if statement is None:
            return self._missing(body)
        return json_response({"PreparedStatement": statement.shape()})

    def list(self, request: Request) -> Response:
        body, error = self._check(request, named=False)
        if error:
            return error
        size = int(body.get("MaxResults", MAX_LIST))
        if not 1 <= size <= MAX_LIST:
            return json_error("InvalidRequestException", f"MaxResults must be between 1 and {MAX_LIST}")
        items = [
            {"StatementName": s.name, "LastModifiedTime": s.modified}
            for s in self.store.list(request.route.region, body["WorkGroup"])
        ]
        token = body.get("NextToken")
        start = int(token) if token and token.isdigit() else 0
        page: dict = {"PreparedStatements": items[start : start + size]}
        if start + size < len(items):
            page["NextToken"] = str(start + size)
        return json_response(page)

    def update(self, request: Request) -> Response:
        body, error = self._check(request)
        if error:
            return error
        region, group, name = request.route.region, body["WorkGroup"], body["StatementName"]
        if self.store.get(region, group, name) is None:
            return self._missing(body)
        self.store.put(
            region, PreparedStatement(name, group, body.get("QueryStatement", ""), body.get("Description", ""))
        )
        return json_response({})

    def delete(self, request: Request) -> Response:
        body, error = self._check(request)
        if error:
            return error
        if not self.store.delete(request.route.region, body["WorkGroup"], body["StatementName"]):
            return self._missing(body)
        return json_response({})
