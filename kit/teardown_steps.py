"""Remove one stack, mirroring provision step for step in reverse, each step tolerant of what is already gone.

Only the stack's own resources are deleted: one that has the stack's name but not its etl-kit-stack tag (made by
someone else, or AWS's own, like Athena's `primary` workgroup) is left alone and reported (kit/ownership.py).

Steps, in order:
  1. the kit's rules in the bucket notification configuration (raw/ -> transform, processed/ -> catalog queue)
  2. S3's permission to invoke the functions
  3. the catalog queue's event source mapping
  4. the functions, their asynchronous invocation configs and reserved concurrency
  5. their log groups
  6. the queues: the catalog queue, its dead-letter queue, the dead-letter queue
  7. the crawler (stopped first if running) and its log stream in /aws-glue/crawlers
  8. the Glue tables and partitions the crawler (and the catalog updater) made
  9. the Glue database
 10. the Athena workgroup, recursively (its saved queries and history)
 11. every object in the bucket, with every version and delete marker
 12. the bucket
 13. the roles' policies
 14. the roles
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from kit import ownership
from kit.aws import athena, glue, has_code, iam, lambda_, logs, s3, sqs
from kit.narrate import DELETED, MISSING, Narrator
from kit.policies import GLUE_CRAWLER_LOG_GROUP
from kit.provisioning import notification_rule_prefix, permission_statement_id
from kit.session import Clients
from kit.stack import KIT_TAG, PROJECT_TAG_KEY, STACK_TAG_KEY, Stack, stacks_dir


def _outcome(deleted: bool) -> str:
    return DELETED if deleted else MISSING


LEFT_ALONE = "not tagged as this stack's: left alone"


@dataclass
class Teardown:
    clients: Clients
    stack: Stack
    narrator: Narrator
    _foreign: set[str] | None = field(default=None, repr=False)

    def foreign(self) -> list[str]:
        """Labels of resources with the stack's names that are not the stack's (surveyed once)."""
        if self._foreign is None:
            resources = ownership.survey(self.clients, self.stack)
            self._foreign = {r.label for r in ownership.foreign(resources, self.stack)}
        return sorted(self._foreign)

    def _mine(self, label: str) -> bool:
        """False (and narrated) for a resource that exists under the stack's name without being the stack's."""
        if label in self.foreign():
            self.narrator.result(label.split(" ", 1)[-1], LEFT_ALONE)
            return False
        return True

    def steps(self):
        stack = self.stack
        return [
            (f"Removing the notification rules of {stack.bucket}", self.remove_notifications),
            ("Removing S3's permission to invoke the functions", self.remove_permissions),
            (f"Removing the mapping of {stack.catalog_queue} to {stack.crawler_trigger_function}", self.unmap_queue),
            ("Deleting the functions, their async invocation configs and concurrency", self.delete_functions),
            ("Deleting the log groups", self.delete_log_groups),
            (f"Deleting the queues {', '.join(stack.queues)}", self.delete_queues),
            (f"Deleting the crawler {stack.crawler} and its log stream", self.delete_crawler),
            (f"Deleting the tables and partitions of {stack.glue_database}", self.delete_tables),
            (f"Deleting the Glue database {stack.glue_database}", self.delete_database),
            (f"Deleting the Athena workgroup {stack.workgroup} (recursive)", self.delete_workgroup),
            (f"Deleting every object version and delete marker in {stack.bucket}", self.empty_bucket),
            (f"Deleting the bucket {stack.bucket}", self.delete_bucket),
            ("Deleting the roles' policies", self.delete_role_policies),
            ("Deleting the roles", self.delete_roles),
        ]

    def run(self) -> None:
        self.foreign()
        for title, action in self.steps():
            with self.narrator.step(title):
                action()

    def remove_notifications(self) -> None:
        if not self._mine(ownership.bucket_label(self.stack)):
            return
        deleted = s3.delete_bucket_notification_configuration_if_exists(
            self.clients.s3, self.stack.bucket, owned_prefix=notification_rule_prefix(self.stack)
        )
        self.narrator.result(f"s3://{self.stack.bucket} notification rules", _outcome(deleted))

    def remove_permissions(self) -> None:
        for function in self.stack.functions:
            if not self._mine(ownership.function_label(function)):
                continue
            deleted = lambda_.remove_permission_if_exists(
                self.clients.lambda_, function, permission_statement_id(self.stack)
            )
            self.narrator.result(f"{function} permission {permission_statement_id(self.stack)}", _outcome(deleted))

    def unmap_queue(self) -> None:
        function = self.stack.crawler_trigger_function
        if not self._mine(ownership.function_label(function)):
            return
        deleted = lambda_.delete_event_source_mapping_if_exists(
            self.clients.lambda_, function, self.stack.catalog_queue_arn
        )
        self.narrator.result(f"{self.stack.catalog_queue} -> {function}", _outcome(deleted))

    def delete_functions(self) -> None:
        for function in self.stack.functions:
            if not self._mine(ownership.function_label(function)):
                continue
            deleted = lambda_.delete_function_event_invoke_config_if_exists(self.clients.lambda_, function)
            self.narrator.result(f"{function} async invocation config", _outcome(deleted))
            deleted = lambda_.delete_function_concurrency_if_exists(self.clients.lambda_, function)
            self.narrator.result(f"{function} reserved concurrency", _outcome(deleted))
            self.narrator.result(function, _outcome(lambda_.delete_function_if_exists(self.clients.lambda_, function)))

    def delete_log_groups(self) -> None:
        for function in self.stack.functions:
            name = self.stack.log_group(function)
            if self._mine(ownership.log_group_label(name)):
                self.narrator.result(name, _outcome(logs.delete_log_group_if_exists(self.clients.logs, name)))

    def delete_queues(self) -> None:
        for queue in self.stack.queues:
            if self._mine(ownership.queue_label(queue)):
                self.narrator.result(queue, _outcome(sqs.delete_queue_if_exists(self.clients.sqs, queue)))

    def delete_crawler(self) -> None:
        if not self._mine(ownership.crawler_label(self.stack)):
            return
        deleted = glue.delete_crawler_if_exists(self.clients.glue, self.stack.crawler, arn=self.stack.crawler_arn)
        self.narrator.result(self.stack.crawler, _outcome(deleted))
        # A crawl writes its log to a stream named after the crawler in the account's shared group: that stream is
        # the stack's, the group is not (https://docs.aws.amazon.com/glue/latest/dg/console-crawlers.html).
        stream = logs.delete_log_stream_if_exists(self.clients.logs, GLUE_CRAWLER_LOG_GROUP, self.stack.crawler)
        self.narrator.result(f"log stream {GLUE_CRAWLER_LOG_GROUP}/{self.stack.crawler}", _outcome(stream))

    def delete_tables(self) -> None:
        if not self._mine(ownership.database_label(self.stack)):
            return
        tables, partitions = glue.delete_tables_and_partitions(self.clients.glue, self.stack.glue_database)
        self.narrator.result(self.stack.glue_database, f"{tables} tables, {partitions} partitions deleted")

    def delete_database(self) -> None:
        if not self._mine(ownership.database_label(self.stack)):
            return
        deleted = glue.delete_database_if_exists(
            self.clients.glue, self.stack.glue_database, arn=self.stack.glue_database_arn
        )
        self.narrator.result(self.stack.glue_database, _outcome(deleted))

    def delete_workgroup(self) -> None:
        if not self._mine(ownership.workgroup_label(self.stack)):
            return
        deleted = athena.delete_work_group_if_exists(self.clients.athena, self.stack.workgroup)
        self.narrator.result(self.stack.workgroup, _outcome(deleted))

    def empty_bucket(self) -> None:
        if not self._mine(ownership.bucket_label(self.stack)):
            return
        count = s3.delete_all_object_versions(self.clients.s3, self.stack.bucket)
        self.narrator.result(f"s3://{self.stack.bucket}", f"{count} object versions and delete markers deleted")

    def delete_bucket(self) -> None:
        if not self._mine(ownership.bucket_label(self.stack)):
            return
        deleted = s3.delete_bucket_if_exists(self.clients.s3, self.stack.bucket)
        self.narrator.result(f"s3://{self.stack.bucket}", _outcome(deleted))

    def delete_role_policies(self) -> None:
        for purpose in self.stack.role_purposes:
            role = self.stack.role_name(purpose)
            if not self._mine(ownership.role_label(role)):
                continue
            removed = iam.delete_role_policies_if_exist(self.clients.iam, role)
            self.narrator.result(role, f"deleted {', '.join(removed)}" if removed else MISSING)

    def delete_roles(self) -> None:
        for purpose in self.stack.role_purposes:
            role = self.stack.role_name(purpose)
            if self._mine(ownership.role_label(role)):
                self.narrator.result(role, _outcome(iam.delete_role_if_exists(self.clients.iam, role)))

    # --- what exists --------------------------------------------------------------------------------------------
    def existing(self) -> list[str]:
        """The stack's own resources that exist now, found by name (read-only); foreign ones are not listed."""
        c, stack = self.clients, self.stack
        found = []
        if s3.head_bucket(c.s3, stack.bucket):
            found.append(f"bucket s3://{stack.bucket}")
        found += [f"function {f}" for f in stack.functions if lambda_.get_function(c.lambda_, f) is not None]
        found += [
            f"log group {stack.log_group(f)}"
            for f in stack.functions
            if logs.get_log_group(c.logs, stack.log_group(f)) is not None
        ]
        found += [ownership.queue_label(q) for q in stack.queues if sqs.get_queue_url(c.sqs, q) is not None]
        mapping = lambda_.get_function(c.lambda_, stack.crawler_trigger_function) and lambda_.get_event_source_mapping(
            c.lambda_, stack.crawler_trigger_function, stack.catalog_queue_arn
        )
        if mapping:
            found.append(
                f"event source mapping {mapping['UUID']} ({stack.catalog_queue} -> {stack.crawler_trigger_function})"
            )
        if glue.get_crawler(c.glue, stack.crawler) is not None:
            found.append(f"crawler {stack.crawler}")
        if logs.get_log_stream(c.logs, GLUE_CRAWLER_LOG_GROUP, stack.crawler) is not None:
            found.append(f"log stream {GLUE_CRAWLER_LOG_GROUP}/{stack.crawler}")
        if glue.get_database(c.glue, stack.glue_database) is not None:
            found.append(f"Glue database {stack.glue_database}")
        if athena.get_work_group(c.athena, stack.workgroup) is not None:
            found.append(f"workgroup {stack.workgroup}")
        found += [
            f"role {stack.role_name(p)}"
            for p in stack.role_purposes
            if iam.get_role(c.iam, stack.role_name(p)) is not None
        ]
        self._foreign = None  # survey again: the set changes as the stack goes
        foreign = set(self.foreign())
        return [label for label in found if label not in foreign]

    def tagged(self) -> list[str]:
        """ARNs the Resource Groups Tagging API lists with this stack's tag (it may lag deletions by minutes)."""
        paginator = self.clients.tagging.get_paginator("get_resources")
        pages = paginator.paginate(TagFilters=[{"Key": STACK_TAG_KEY, "Values": [self.stack.name]}])
        return [item["ResourceARN"] for page in pages for item in page["ResourceTagMappingList"]]


def find_stacks(clients: Clients, account: str, region: str) -> list[str]:
    """Every stack of this kit in this account and region, found by its bucket's and roles' tags and outputs files."""
    names: set[str] = set()
    suffix = f"-{account}-{region}"
    for bucket in s3.list_bucket_names(clients.s3):
        if not bucket.endswith(suffix):
            continue
        try:
            tags = s3.get_bucket_tags(clients.s3, bucket)
        except ClientError as error:
            if has_code(error, "NoSuchBucket", "AccessDenied"):
                continue
            raise
        if tags.get(PROJECT_TAG_KEY) == KIT_TAG and STACK_TAG_KEY in tags:
            names.add(tags[STACK_TAG_KEY])
    for page in clients.iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            if role["RoleName"].endswith("-transform-role"):
                tags = iam.list_role_tags(clients.iam, role["RoleName"])
                if tags.get(PROJECT_TAG_KEY) == KIT_TAG and STACK_TAG_KEY in tags:
                    names.add(tags[STACK_TAG_KEY])
    for path in sorted(stacks_dir().glob("*.json")):
        outputs = json.loads(path.read_text())
        if outputs.get("account") == account and outputs.get("region") == region:
            names.add(outputs["stack"])
    return sorted(names)
