"""The catalog updater's concurrency on localaws, through the unchanged provision.py: where the account cannot spare
a reserved execution, the queue mapping's MaximumConcurrency 2 bounds the trigger instead; a re-run once it can
reserves 1 and removes that fallback (https://docs.aws.amazon.com/lambda/latest/api/API_ScalingConfig.html: "To
remove the configuration, pass an empty value"), so the mapping does not keep a maximum above the reservation.

The account's spare concurrency is used up the way a busy account's is: another function reserves all but Lambda's
minimum unreserved (localaws/lambda_runtime/concurrency.py), then gives it back.
"""

from __future__ import annotations

import uuid

import boto3
import pytest

from tests.conftest import provision_stack
from tests.localaws.test_lambda_runtime import create_function

pytestmark = [pytest.mark.localaws, pytest.mark.slow]

MINIMUM_UNRESERVED = 100  # Lambda keeps this much of an account's 1,000 unreserved


def test_a_rerun_that_can_reserve_concurrency_removes_the_mapping_fallback(localaws_env, tmp_path) -> None:
    lam = boto3.client("lambda")
    stack = f"cc{uuid.uuid4().hex[:6]}"
    trigger = f"{stack}-crawler-trigger"
    hog = create_function("def handler(event, context):\n    return None\n")
    spare = lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] - MINIMUM_UNRESERVED
    assert spare >= 1
    lam.put_function_concurrency(FunctionName=hog, ReservedConcurrentExecutions=spare)
    try:
        outputs = provision_stack(stack, tmp_path)
        assert outputs["catalog"]["reserved_concurrency"] is None
        assert lam.get_function_concurrency(FunctionName=trigger).get("ReservedConcurrentExecutions") is None
        (mapping,) = lam.list_event_source_mappings(FunctionName=trigger)["EventSourceMappings"]
        assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    finally:
        lam.delete_function_concurrency(FunctionName=hog)
        lam.delete_function(FunctionName=hog)

    outputs = provision_stack(stack, tmp_path)
    assert outputs["catalog"]["reserved_concurrency"] == 1
    assert lam.get_function_concurrency(FunctionName=trigger)["ReservedConcurrentExecutions"] == 1
    (mapping,) = lam.list_event_source_mappings(FunctionName=trigger)["EventSourceMappings"]
    assert not mapping.get("ScalingConfig", {}).get("MaximumConcurrency")
    assert mapping["State"] == "Enabled" and mapping["BatchSize"] == 1000
