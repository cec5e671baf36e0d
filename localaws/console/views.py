"""The console's JSON views: each reads state localaws already holds, through the public APIs it answers (S3, Lambda,
CloudWatch Logs, Glue, Athena), and moto's SQS backend in-process for dead letters (a ReceiveMessage would change the
messages' visibility and receive count). Nothing is stored here.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from aws_prices import ATHENA_PRICE_PER_TB_USD, athena_billed_bytes, athena_query_cost_usd
from localaws.console.lambda_logs import invocations_from_events
from localaws.server import ACCOUNT_ID, LocalAws

STACK_TAG_KEY = "etl-kit-stack"
PREFIXES = ("raw/", "processed/", "quarantine/", "schemas/", "manifests/", "athena-results/")
OBJECTS_PER_PREFIX = 50
QUERIES_SHOWN = 50
_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30)

View = Callable[[str, str], dict[str, Any]]


def belongs(name: str, stack: str) -> bool:
    """True when `name` is one of stack's resources: the stack's name, "<stack>-…", or its Glue database."""
    if not stack:
        return True
    return name == stack or name.startswith(f"{stack}-") or name == stack.replace("-", "_")


def arn_belongs(arn: str, stack: str) -> bool:
    """True when a name in the ARN's resource part (a role, a bucket, a function...) belongs to the stack."""
    resource = arn.split(":", 5)[5] if arn.startswith("arn:") and arn.count(":") >= 5 else arn
    return not stack or any(belongs(part, stack) for part in re.split(r"[:/]", resource) if part)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC).isoformat()
    return str(value)


def _group(prefix: str) -> dict[str, Any]:
    return {"prefix": prefix, "count": 0, "bytes": 0, "objects": []}


class Views:
    def __init__(self, app: LocalAws) -> None:
        self.app = app
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._reports: dict[tuple[str, str, str], dict] = {}  # (bucket, key, etag) -> parsed quarantine report

    def endpoints(self) -> dict[str, View]:
        return {
            "stacks": self.stacks,
            "s3": self.s3,
            "invocations": self.invocations,
            "quarantine": self.quarantine,
            "crawls": self.crawls,
            "queries": self.queries,
            "iam": self.iam,
            "queues": self.queues,
            "pipeline": self.pipeline,
        }

    def _client(self, service: str, region: str) -> Any:
        with self._lock:
            if (service, region) not in self._clients:
                self._clients[(service, region)] = boto3.session.Session().client(
                    service,
                    region_name=region,
                    endpoint_url=self.app.endpoint,
                    aws_access_key_id="test",
                    aws_secret_access_key="test",
                    config=_CONFIG,
                )
            return self._clients[(service, region)]

    # -- stacks and S3 ------------------------------------------------------------------------------------------
    def _bucket_tags(self, s3: Any, bucket: str) -> dict[str, str]:
        try:
            return {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
        except ClientError:  # NoSuchTagSet
            return {}

    def _buckets(self, stack: str, region: str) -> list[str]:
        s3 = self._client("s3", region)
        names = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
        if not stack:
            return names
        return [n for n in names if belongs(n, stack) or self._bucket_tags(s3, n).get(STACK_TAG_KEY) == stack]

    def stacks(self, _stack: str, region: str) -> dict[str, Any]:
        s3 = self._client("s3", region)
        found = set()
        for bucket in s3.list_buckets().get("Buckets", []):
            tag = self._bucket_tags(s3, bucket["Name"]).get(STACK_TAG_KEY)
            if tag:
                found.add(tag)
        return {"stacks": sorted(found)}

    def _objects(self, bucket: str, region: str) -> list[dict[str, Any]]:
        s3 = self._client("s3", region)
        objects = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            objects += page.get("Contents", [])
        return objects

    def s3(self, stack: str, region: str) -> dict[str, Any]:
        buckets = []
        for bucket in self._buckets(stack, region):
            groups: dict[str, dict[str, Any]] = {p: _group(p) for p in PREFIXES}
            for obj in self._objects(bucket, region):
                key = obj["Key"]
                prefix = key.split("/", 1)[0] + "/" if "/" in key else "(top level)"
                group = groups.setdefault(prefix, _group(prefix))
                group["count"] += 1
                group["bytes"] += obj["Size"]
                group["objects"].append({"key": key, "size": obj["Size"], "last_modified": _iso(obj["LastModified"])})
            for group in groups.values():
                group["objects"].sort(key=lambda o: o["last_modified"] or "", reverse=True)
                group["objects"] = group["objects"][:OBJECTS_PER_PREFIX]
            buckets.append({"bucket": bucket, "prefixes": list(groups.values())})
        return {"buckets": buckets}

    # -- Lambda ---------------------------------------------------------------------------------------------------
    def _functions(self, stack: str, region: str) -> list[str]:
        client = self._client("lambda", region)
        names = []
        for page in client.get_paginator("list_functions").paginate():
            names += [f["FunctionName"] for f in page["Functions"] if belongs(f["FunctionName"], stack)]
        return sorted(names)

    def invocations(self, stack: str, region: str) -> dict[str, Any]:
        logs = self._client("logs", region)
        found = []
        for function in self._functions(stack, region):
            events = []
            try:
                for page in logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{function}"):
                    events += page.get("events", [])
            except logs.exceptions.ResourceNotFoundException:
                continue  # not invoked yet: Lambda creates the group at the first invocation
            found += [{"function": function, **inv} for inv in invocations_from_events(events)]
        found.sort(key=lambda inv: inv["started"] or 0, reverse=True)
        return {"invocations": found}

    # -- quarantine and dead letters --------------------------------------------------------------------------------
    def _report(self, bucket: str, obj: dict[str, Any], region: str) -> dict[str, Any]:
        cache_key = (bucket, obj["Key"], obj.get("ETag", ""))
        if cache_key not in self._reports:
            body = self._client("s3", region).get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            try:
                report = json.loads(body)
            except ValueError:
                report = {"reason": body.decode("utf-8", "replace")[:500]}
            self._reports[cache_key] = report if isinstance(report, dict) else {"reason": str(report)}
        return self._reports[cache_key]

    def quarantine(self, stack: str, region: str) -> dict[str, Any]:
        files = []
        for bucket in self._buckets(stack, region):
            for obj in self._objects(bucket, region):
                if obj["Key"].startswith("quarantine/") and obj["Key"].endswith(".error.json"):
                    report = self._report(bucket, obj, region)
                    files.append(
                        {
                            "bucket": bucket,
                            "key": obj["Key"].removesuffix(".error.json"),
                            "reason": report.get("reason") or report.get("error") or json.dumps(report)[:500],
                            "report": report,
                            "last_modified": _iso(obj["LastModified"]),
                        }
                    )
        files.sort(key=lambda f: f["last_modified"] or "", reverse=True)
        return {"files": files, "dead_letters": self._dead_letters(stack, region)}

    def _dead_letters(self, stack: str, region: str) -> list[dict[str, Any]]:
        from moto.sqs.models import sqs_backends

        letters = []
        with self.app.moto_lock:
            queues = sqs_backends[ACCOUNT_ID][region].queues
            for name, queue in queues.items():
                if not belongs(name, stack) or not (name.endswith("dlq") or "dead" in name):
                    continue
                for message in list(queue._messages):
                    attributes = {
                        k: v.get("string_value") or v.get("StringValue")
                        for k, v in (message.message_attributes or {}).items()
                        if isinstance(v, dict)
                    }
                    letters.append(
                        {
                            "queue": name,
                            "message_id": message.id,
                            "sent": _iso(message.sent_timestamp),
                            "attributes": attributes,
                            "body": message.body[:2000],
                        }
                    )
        letters.sort(key=lambda m: m["sent"] or "", reverse=True)
        return letters

    # -- Glue ---------------------------------------------------------------------------------------------------
    def crawls(self, stack: str, region: str) -> dict[str, Any]:
        glue = self._client("glue", region)
        tables = self._tables(stack, region)
        crawls = []
        for crawler in glue.get_paginator("get_crawlers").paginate():
            for item in crawler["Crawlers"]:
                if not belongs(item["Name"], stack):
                    continue
                for crawl in glue.list_crawls(CrawlerName=item["Name"]).get("Crawls", []):
                    crawls.append(self._crawl_view(item, crawl, tables))
        crawls.sort(key=lambda c: c["started"] or "", reverse=True)
        return {"crawls": crawls, "tables": tables}

    @staticmethod
    def _crawl_view(crawler: dict[str, Any], crawl: dict[str, Any], tables: list[dict[str, Any]]) -> dict[str, Any]:
        start, end = crawl.get("StartTime"), crawl.get("EndTime")
        summary = json.loads(crawl["Summary"]) if crawl.get("Summary") else {}

        def within(stamp: str | None) -> bool:
            # what this crawl did: catalog changes stamped while it ran
            return stamp is not None and start is not None and _iso(start) <= stamp <= (_iso(end) if end else "~")

        database = crawler.get("DatabaseName")
        in_db = [t for t in tables if t["database"] == database]
        return {
            "crawler": crawler["Name"],
            "crawl_id": crawl.get("CrawlId"),
            "state": crawl.get("State"),
            "started": _iso(start),
            "ended": _iso(end),
            "error": crawl.get("ErrorMessage"),
            "summary": summary,
            "tables_added": [t["name"] for t in in_db if within(t["created"])],
            "tables_changed": [t["name"] for t in in_db if within(t["updated"]) and not within(t["created"])],
            "partitions_added": [
                f"{t['name']}/{p['location']}" for t in in_db for p in t["partitions"] if within(p["created"])
            ],
        }

    def _tables(self, stack: str, region: str) -> list[dict[str, Any]]:
        glue = self._client("glue", region)
        tables = []
        for page in glue.get_paginator("get_databases").paginate():
            for database in page["DatabaseList"]:
                if not belongs(database["Name"], stack):
                    continue
                for table_page in glue.get_paginator("get_tables").paginate(DatabaseName=database["Name"]):
                    for table in table_page["TableList"]:
                        tables.append(self._table_view(glue, database["Name"], table))
        return tables

    @staticmethod
    def _table_view(glue: Any, database: str, table: dict[str, Any]) -> dict[str, Any]:
        partitions = []
        if table.get("PartitionKeys"):
            for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table["Name"]):
                for partition in page["Partitions"]:
                    keys = [k["Name"] for k in table["PartitionKeys"]]
                    location = "/".join(f"{k}={v}" for k, v in zip(keys, partition["Values"], strict=False))
                    partitions.append({"location": location, "created": _iso(partition.get("CreationTime"))})
        return {
            "database": database,
            "name": table["Name"],
            "location": table.get("StorageDescriptor", {}).get("Location"),
            "columns": len(table.get("StorageDescriptor", {}).get("Columns", [])),
            "created": _iso(table.get("CreateTime")),
            "updated": _iso(table.get("UpdateTime")),
            "partitions": partitions,
        }

    # -- Athena -------------------------------------------------------------------------------------------------
    def queries(self, stack: str, region: str) -> dict[str, Any]:
        athena = self._client("athena", region)
        ids: list[str] = []
        for group in athena.list_work_groups().get("WorkGroups", []):
            if belongs(group["Name"], stack):
                ids += athena.list_query_executions(WorkGroup=group["Name"], MaxResults=QUERIES_SHOWN).get(
                    "QueryExecutionIds", []
                )
        executions = []
        for start in range(0, len(ids), 50):
            executions += athena.batch_get_query_execution(QueryExecutionIds=ids[start : start + 50])["QueryExecutions"]
        queries = []
        for execution in executions:
            status, statistics = execution["Status"], execution.get("Statistics", {})
            scanned = statistics.get("DataScannedInBytes", 0)
            billing = {
                "statement_type": execution.get("StatementType", "DML"),
                "substatement_type": execution.get("SubstatementType", ""),
                "state": status["State"],
            }
            queries.append(
                {
                    "id": execution["QueryExecutionId"],
                    "sql": execution["Query"],
                    "work_group": execution.get("WorkGroup"),
                    "state": status["State"],
                    "reason": status.get("StateChangeReason"),
                    "submitted": _iso(status.get("SubmissionDateTime")),
                    "bytes_scanned": scanned,
                    "bytes_billed": athena_billed_bytes(scanned, **billing),
                    "time_ms": statistics.get("TotalExecutionTimeInMillis"),
                    "price_usd": athena_query_cost_usd(scanned, **billing),
                }
            )
        queries.sort(key=lambda q: q["submitted"] or "", reverse=True)
        return {"queries": queries[:QUERIES_SHOWN], "price_per_tb_usd": ATHENA_PRICE_PER_TB_USD}

    # -- IAM ----------------------------------------------------------------------------------------------------
    def iam(self, stack: str, _region: str) -> dict[str, Any]:
        usage = self.app._internal.get("iam-usage")
        if usage is None:
            return {"recorded": False, "denials": []}
        data = json.loads(usage({}).body)
        denials = [
            {"principal": arn, **call}
            for arn, calls in data.get("principals", {}).items()
            for call in calls
            if not call.get("allowed") and (arn_belongs(arn, stack) or arn_belongs(call.get("resource", ""), stack))
        ]
        return {"recorded": True, "mode": data.get("mode"), "denials": denials}

    # -- event source mappings ----------------------------------------------------------------------------------------
    def queues(self, stack: str, region: str) -> dict[str, Any]:
        """Each SQS event source mapping of the stack's functions: its queue's messages (waiting, in flight, delayed,
        from GetQueueAttributes) and the batches localaws's poller is running (/_localaws/event-source-mappings)."""
        lam, sqs = self._client("lambda", region), self._client("sqs", region)
        mappings = [
            m
            for page in lam.get_paginator("list_event_source_mappings").paginate()
            for m in page["EventSourceMappings"]
            if m["EventSourceArn"].split(":")[2] == "sqs" and arn_belongs(m["FunctionArn"], stack)
        ]
        pollers = {p["UUID"]: p for p in self._local("event-source-mappings").get("Mappings", [])}
        shown = []
        for mapping in mappings:
            name, account = mapping["EventSourceArn"].split(":")[5], mapping["EventSourceArn"].split(":")[4]
            try:
                url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
                attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            except ClientError:
                attributes = {}  # the queue was deleted; the mapping stays, as on AWS
            poller = pollers.get(mapping["UUID"], {})
            shown.append(
                {
                    "uuid": mapping["UUID"],
                    "queue": name,
                    "function": mapping["FunctionArn"].split(":")[6],
                    "state": mapping.get("State"),
                    "batch_size": mapping.get("BatchSize"),
                    "window_s": mapping.get("MaximumBatchingWindowInSeconds", 0),
                    "waiting": int(attributes.get("ApproximateNumberOfMessages", 0)),
                    "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                    "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
                    "batches_in_flight": poller.get("BatchesInFlight", 0),
                    "invocations": poller.get("Invocations", 0),
                    "throttles": poller.get("Throttles", 0),
                }
            )
        return {"mappings": shown}

    def _local(self, name: str) -> dict[str, Any]:
        import urllib.request

        with urllib.request.urlopen(f"{self.app.endpoint}/_localaws/{name}", timeout=30) as response:
            return json.load(response)

    # -- the diagram ----------------------------------------------------------------------------------------------
    def pipeline(self, stack: str, region: str) -> dict[str, Any]:
        counts, sizes = dict.fromkeys(PREFIXES, 0), dict.fromkeys(PREFIXES, 0)
        for bucket in self.s3(stack, region)["buckets"]:
            for group in bucket["prefixes"]:
                counts[group["prefix"]] = counts.get(group["prefix"], 0) + group["count"]
                sizes[group["prefix"]] = sizes.get(group["prefix"], 0) + group["bytes"]
        invocations = self.invocations(stack, region)["invocations"]
        quarantine = self.quarantine(stack, region)
        crawls = self.crawls(stack, region)
        queries = self.queries(stack, region)["queries"]
        mappings = self.queues(stack, region)["mappings"]
        return {
            "raw_objects": counts["raw/"],
            "s3_events": sum(1 for inv in invocations if inv["event"]),
            "invocations": len(invocations),
            "invocation_errors": sum(1 for inv in invocations if inv["status"] not in ("ok", "running")),
            "processed_objects": counts["processed/"],
            "processed_bytes": sizes["processed/"],
            "quarantined_files": len(quarantine["files"]),
            "dead_letters": len(quarantine["dead_letters"]),
            "queued_messages": sum(m["waiting"] + m["in_flight"] + m["delayed"] for m in mappings),
            "batches_in_flight": sum(m["batches_in_flight"] for m in mappings),
            "crawls": len(crawls["crawls"]),
            "tables": len(crawls["tables"]),
            "partitions": sum(len(t["partitions"]) for t in crawls["tables"]),
            "queries": len(queries),
            "bytes_scanned": sum(q["bytes_scanned"] for q in queries),
            "price_usd": sum(q["price_usd"] for q in queries),
        }
