"""Least-privilege IAM documents for the stack, as pure functions of its names.

Every statement names exact actions (no wildcard actions) on ARNs scoped to this stack: its bucket prefixes, its log
groups, its queue, its crawler and its Glue database. Two account-level resources are fixed by Glue itself: the
account's catalog (Glue authorizes every catalog call on it as well as on the database and table) and the crawler
log group /aws-glue/crawlers, where the crawler may write only its own log stream.
"""

from __future__ import annotations

from typing import Any

from kit.stack import Stack
from pipeline import config

Document = dict[str, Any]
VERSION = "2012-10-17"
GLUE_CRAWLER_LOG_GROUP = "/aws-glue/crawlers"  # https://docs.aws.amazon.com/glue/latest/dg/console-crawlers.html


def _statement(sid: str, actions: list[str], resources: list[str], condition: Document | None = None) -> Document:
    statement: Document = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def _list_prefix(stack: Stack, prefix: str) -> Document:
    """ListBucket limited to one prefix: what a caller that lists that prefix (the crawler) needs."""
    return _statement(
        f"List{prefix.strip('/').title()}",
        ["s3:ListBucket"],
        [stack.bucket_arn],
        {"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}},
    )


def _list_bucket_for_missing_keys(stack: Stack) -> Document:
    """ListBucket on the stack's bucket, without a prefix condition, so that reading a schema record that does not
    exist yet answers 404 NoSuchKey rather than 403 AccessDenied. S3 decides 404-or-403 by whether the caller may
    ListBucket, and a GetObject request carries no s3:prefix key, so a prefix-conditioned grant would not count.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (Permissions)"""
    return _statement("ListForMissingSchemaRecords", ["s3:ListBucket"], [stack.bucket_arn])


def _own_log_group(stack: Stack, function: str) -> Document:
    # The log group is created up front (with retention), so the function needs no logs:CreateLogGroup.
    return _statement(
        "WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{stack.log_group_arn(function)}:*"]
    )


def _dead_letter_queue(stack: Stack) -> Document:
    # Lambda's on-failure destination is sent with the function's execution role.
    return _statement("SendToDeadLetterQueue", ["sqs:SendMessage"], [stack.dlq_arn])


def _service_trust_policy(service: str) -> Document:
    """Only `service` may assume the role, with no condition.

    No aws:SourceAccount (or aws:SourceArn) condition: IAM puts that key in the request context only when a service
    says so ("the aws:SourceAccount condition key is only available when the call to your resource is made directly
    by an AWS service principal", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html),
    and a condition on a missing key denies. Neither Lambda's execution-role documentation
    (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html: the trust policy names the Lambda
    service principal) nor Glue's service-role documentation
    (https://docs.aws.amazon.com/glue/latest/dg/create-an-iam-role.html) says that the service sets it when it
    assumes the role, so a condition could only break role assumption. The confused-deputy guard that is documented
    for this kit's flows stays: S3's permission to invoke each function is limited by SourceArn and SourceAccount.
    """
    return {
        "Version": VERSION,
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def lambda_trust_policy(stack: Stack) -> Document:
    return _service_trust_policy("lambda.amazonaws.com")


def glue_trust_policy(stack: Stack) -> Document:
    return _service_trust_policy("glue.amazonaws.com")


def transform_policy(stack: Stack) -> Document:
    return {
        "Version": VERSION,
        "Statement": [
            _statement("ReadRaw", ["s3:GetObject"], [stack.prefix_arn(config.RAW_PREFIX)]),
            # DeleteObject: a new version or a deleted raw object removes the outputs of the previous one, and a
            # failed attempt removes the outputs it already uploaded (lambda_transform.upload_outputs)
            _statement(
                "WriteProcessedAndQuarantine",
                ["s3:PutObject", "s3:DeleteObject"],
                [stack.prefix_arn(config.PROCESSED_PREFIX), stack.prefix_arn(config.QUARANTINE_PREFIX)],
            ),
            # a stale event must not overwrite a newer version's quarantine report: it reads the stored one first
            _statement(
                "ReadQuarantineReports",
                ["s3:GetObject"],
                [stack.prefix_arn(config.QUARANTINE_PREFIX).removesuffix("*") + "*.error.json"],
            ),
            _statement(
                "ReadWriteSchemaRecordsAndManifests",
                ["s3:GetObject", "s3:PutObject"],
                [stack.prefix_arn(config.SCHEMAS_PREFIX), stack.prefix_arn(config.MANIFESTS_PREFIX)],
            ),
            _list_bucket_for_missing_keys(stack),
            _own_log_group(stack, stack.transform_function),
            _dead_letter_queue(stack),
        ],
    }


# What Lambda's SQS event source mapping calls with the function's role, plus the trigger's own
# ChangeMessageVisibility (a message a running crawl does not cover comes back in seconds):
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html (execution role permissions)
CATALOG_QUEUE_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
]
FAST_PATH_GLUE_ACTIONS = ["glue:GetTable", "glue:BatchCreatePartition"]


def _catalog_tables(stack: Stack) -> list[str]:
    """Glue authorizes a table call on the catalog, the database and the table alike."""
    return [
        stack.arn("glue", "catalog"),
        stack.arn("glue", f"database/{stack.glue_database}"),
        stack.arn("glue", f"table/{stack.glue_database}/*"),
    ]


def crawler_trigger_policy(stack: Stack, catalog_mode: str = config.DEFAULT_CATALOG_MODE) -> Document:
    """The catalog updater: its crawler, its queue, and (fast path only) the tables and the schema records."""
    statements = [
        _statement("StartOwnCrawler", ["glue:StartCrawler", "glue:GetCrawler"], [stack.crawler_arn]),
        _statement("ConsumeCatalogQueue", CATALOG_QUEUE_ACTIONS, [stack.catalog_queue_arn]),
        _own_log_group(stack, stack.crawler_trigger_function),
    ]
    if catalog_mode == "partitions":
        statements[1:1] = [
            _statement("RegisterPartitions", FAST_PATH_GLUE_ACTIONS, _catalog_tables(stack)),
            _statement("ReadSchemaRecords", ["s3:GetObject"], [stack.prefix_arn(config.SCHEMAS_PREFIX)]),
            _list_bucket_for_missing_keys(stack),
        ]
    return {"Version": VERSION, "Statement": statements}


def catalog_queue_policy(stack: Stack) -> Document:
    """The catalog queue's resource policy: only S3, only for this bucket in this account, may send to it.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html"""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "S3SendsProcessedEvents",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": stack.catalog_queue_arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": stack.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            }
        ],
    }


GLUE_CATALOG_ACTIONS = [
    "glue:GetDatabase",
    "glue:GetTable",
    "glue:GetTables",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:BatchGetPartition",
    "glue:CreatePartition",
    "glue:BatchCreatePartition",
    "glue:UpdatePartition",
    "glue:BatchUpdatePartition",
]


def crawler_policy(stack: Stack) -> Document:
    """What the Glue crawler needs: its database's tables and partitions, read on processed/ only, its log stream."""
    log_group = stack.arn("logs", f"log-group:{GLUE_CRAWLER_LOG_GROUP}")
    return {
        "Version": VERSION,
        "Statement": [
            _statement(
                "CatalogOfOwnDatabase",
                GLUE_CATALOG_ACTIONS,
                _catalog_tables(stack),
            ),
            _statement("ReadProcessed", ["s3:GetObject"], [stack.prefix_arn(config.PROCESSED_PREFIX)]),
            _list_prefix(stack, config.PROCESSED_PREFIX),
            _statement("LocateBucket", ["s3:GetBucketLocation"], [stack.bucket_arn]),
            # Glue writes every crawler's log to one account-wide group, one stream per crawler name.
            _statement("CreateCrawlerLogGroup", ["logs:CreateLogGroup"], [log_group]),
            _statement(
                "WriteOwnCrawlerLogStream",
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [f"{log_group}:log-stream:{stack.crawler}"],
            ),
        ],
    }


def role_documents(
    stack: Stack, catalog_mode: str = config.DEFAULT_CATALOG_MODE
) -> dict[str, tuple[Document, Document]]:
    """purpose -> (trust policy, inline permissions policy)."""
    return {
        "transform": (lambda_trust_policy(stack), transform_policy(stack)),
        "crawler-trigger": (lambda_trust_policy(stack), crawler_trigger_policy(stack, catalog_mode)),
        "crawler": (glue_trust_policy(stack), crawler_policy(stack)),
    }


def deny_insecure_transport(stack: Stack) -> Document:
    """Bucket policy: refuse any request not made over TLS (the Deny's wildcard action is the point)."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [stack.bucket_arn, f"{stack.bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
