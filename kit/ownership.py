"""Which of a stack's resource names are the stack's own: only resources tagged etl-kit-stack=<stack> are adopted by
provision and deleted by teardown. A resource that merely has the name (made by hand, by another tool, or by AWS
itself, like Athena's `primary` workgroup or Glue's `default` database) is left alone.

The one exception is a bucket that is untagged and empty: S3 takes the bucket's tags in a second call after
CreateBucket, so an interrupted first run can leave exactly that, and it holds nothing to lose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kit.aws import athena, glue, iam, lambda_, logs, s3, sqs
from kit.session import Clients
from kit.stack import STACK_TAG_KEY, Stack


class NotOwned(RuntimeError):
    """Resources with the stack's names exist but are not tagged as the stack's: provision will not adopt them."""


@dataclass(frozen=True)
class Resource:
    label: str  # "bucket s3://…", "role etl-transform-role", …
    tags: dict[str, str] | None  # None: it does not exist
    adoptable_untagged: bool = False

    @property
    def exists(self) -> bool:
        return self.tags is not None


def _tags_if_exists(find: Callable[[], object], read_tags: Callable[[object], dict[str, str]]) -> dict | None:
    found = find()
    return None if found is None or found is False else read_tags(found)


def survey(clients: Clients, stack: Stack) -> dict[str, Resource]:
    """Every named resource of the stack, keyed by label, with its tags (read-only calls)."""
    c = clients
    found: dict[str, Resource] = {}

    def add(label: str, tags: dict | None, adoptable_untagged: bool = False) -> None:
        found[label] = Resource(label, tags, adoptable_untagged)

    bucket_exists = s3.head_bucket(c.s3, stack.bucket)
    add(
        bucket_label(stack),
        s3.get_bucket_tags(c.s3, stack.bucket) if bucket_exists else None,
        adoptable_untagged=bucket_exists and s3.is_bucket_empty(c.s3, stack.bucket),
    )
    for queue in stack.queues:
        add(
            queue_label(queue),
            _tags_if_exists(lambda q=queue: sqs.get_queue_url(c.sqs, q), lambda u: sqs.list_queue_tags(c.sqs, u)),
        )
    for function in stack.functions:
        name = stack.log_group(function)
        add(
            log_group_label(name),
            _tags_if_exists(
                lambda n=name: logs.get_log_group(c.logs, n), lambda g: logs.list_tags_for_resource(c.logs, g)
            ),
        )
        add(
            function_label(function),
            _tags_if_exists(lambda f=function: lambda_.get_function(c.lambda_, f), lambda r: r.get("Tags", {})),
        )
    for purpose in stack.role_purposes:
        role = stack.role_name(purpose)
        add(
            role_label(role),
            _tags_if_exists(lambda r=role: iam.get_role(c.iam, r), lambda _r, r=role: iam.list_role_tags(c.iam, r)),
        )
    add(
        database_label(stack),
        _tags_if_exists(
            lambda: glue.get_database(c.glue, stack.glue_database),
            lambda _d: glue.get_tags(c.glue, stack.glue_database_arn),
        ),
    )
    add(
        crawler_label(stack),
        _tags_if_exists(
            lambda: glue.get_crawler(c.glue, stack.crawler), lambda _c: glue.get_tags(c.glue, stack.crawler_arn)
        ),
    )
    add(
        workgroup_label(stack),
        _tags_if_exists(
            lambda: athena.get_work_group(c.athena, stack.workgroup),
            lambda _w: athena.list_tags_for_resource(c.athena, stack.workgroup_arn),
        ),
    )
    return found


def is_owned(resource: Resource, stack: Stack) -> bool:
    if not resource.exists:
        return False
    return resource.tags.get(STACK_TAG_KEY) == stack.name or (not resource.tags and resource.adoptable_untagged)


def foreign(resources: dict[str, Resource], stack: Stack) -> list[Resource]:
    """The resources that exist under the stack's names without being the stack's."""
    return [r for r in resources.values() if r.exists and not is_owned(r, stack)]


def check_owned(clients: Clients, stack: Stack) -> int:
    """NotOwned listing every foreign resource, else how many of the stack's resources exist already."""
    resources = survey(clients, stack)
    others = foreign(resources, stack)
    if others:
        listing = "; ".join(
            f"{r.label} (etl-kit-stack={r.tags.get(STACK_TAG_KEY)})"
            if r.tags.get(STACK_TAG_KEY)
            else f"{r.label} (untagged)"
            for r in others
        )
        raise NotOwned(
            f"These resources have stack {stack.name!r}'s names but are not tagged {STACK_TAG_KEY}={stack.name}, "
            f"so provision will not take them over: {listing}. Choose another --stack name, or remove them yourself."
        )
    return sum(r.exists for r in resources.values())


def bucket_label(stack: Stack) -> str:
    return f"bucket s3://{stack.bucket}"


def queue_label(queue: str) -> str:
    return f"queue {queue}"


def log_group_label(name: str) -> str:
    return f"log group {name}"


def function_label(function: str) -> str:
    return f"function {function}"


def role_label(role: str) -> str:
    return f"role {role}"


def database_label(stack: Stack) -> str:
    return f"Glue database {stack.glue_database}"


def crawler_label(stack: Stack) -> str:
    return f"crawler {stack.crawler}"


def workgroup_label(stack: Stack) -> str:
    return f"workgroup {stack.workgroup}"
