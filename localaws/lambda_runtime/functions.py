"""What a function is, read from moto's Lambda backend in-process: its configuration and its own stored zip.

The zip is extracted once per CodeSha256 under a private temp dir, as Lambda unpacks it into /var/task.
Layers: moto refuses layer ARNs it does not hold, but AWS publishes managed layers from its own accounts (the AWS SDK
for pandas layer is arn:aws:lambda:<region>:336392948345:layer:AWSSDKPandas-Python312:N). `allow_managed_layers`
lets those through CreateFunction / UpdateFunctionConfiguration; at run time their packages come from the local
environment (https://docs.aws.amazon.com/lambda/latest/dg/chapter-layers.html).
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import io
import logging
import os
import re
import shutil
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.awslambda import models as lambda_models
from moto.awslambda.exceptions import UnknownFunctionException

log = logging.getLogger("localaws")

# AWS-managed public layers: AWS SDK for pandas (published from a different AWS account in some regions),
# Powertools for AWS Lambda, Lambda Insights; recognised by their publishing account or their layer name.
MANAGED_LAYER_ACCOUNTS = frozenset({"336392948345", "017000801446", "580247275435"})
MANAGED_LAYER_NAMES = ("AWSSDKPandas-", "AWSDataWrangler-", "AWSLambdaPowertools", "LambdaInsightsExtension")
_LAYER_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:(?P<account>\d{12}):layer:(?P<name>[A-Za-z0-9_-]+):\d+$")
# The packages the AWS SDK for pandas layer brings; the Python runtime itself has only the stdlib and boto3.
PANDAS_LAYER_PACKAGES = ("pandas", "pyarrow", "numpy")
_PANDAS_LAYER_NAMES = ("AWSSDKPandas-", "AWSDataWrangler-")


class FunctionNotFound(LookupError):
    """No such function (or qualifier); `arn` names it as Lambda's ResourceNotFoundException does."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class FunctionSpec:
    """Everything an execution environment depends on; two invocations may share one only if their specs are equal."""

    name: str
    arn: str  # unqualified
    version: str  # "$LATEST" or a published version number
    region: str
    account: str
    handler: str
    runtime: str
    package_type: str
    timeout: int
    memory_size: int
    environment: tuple[tuple[str, str], ...]
    layers: tuple[str, ...]
    code_sha256: str
    ephemeral_storage: int = 512  # MB of /tmp (EphemeralStorage.Size)
    role: str = ""  # the execution role's ARN: a new role needs environments with sessions of it

    @property
    def environment_key(self) -> tuple[Any, ...]:
        return (
            self.arn,
            self.version,
            self.code_sha256,
            self.handler,
            self.runtime,
            self.memory_size,
            self.timeout,
            self.environment,
            self.layers,
            self.ephemeral_storage,
            self.role,
        )

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"


def lambda_backend(account: str, region: str) -> Any:
    return lambda_models.lambda_backends[account][region]


def find_function(
    app: Any, account: str, region: str, name_or_arn: str, qualifier: str | None
) -> tuple[FunctionSpec, bytes]:
    """The function's spec and zip bytes, or FunctionNotFound. Aliases resolve to the version they point at."""
    with app.moto_lock:
        backend = lambda_backend(account, region)
        try:
            fn = backend.get_function(name_or_arn, qualifier)
        except UnknownFunctionException as exc:
            raise FunctionNotFound(exc.message) from exc
        spec = FunctionSpec(
            name=fn.function_name,
            arn=fn.function_arn.split(":function:")[0] + ":function:" + fn.function_name,
            version="$LATEST" if _is_latest(backend, fn) else str(fn.version),
            region=region,
            account=account,
            handler=fn.handler or "",
            runtime=fn.run_time or "",
            package_type=fn.package_type,
            timeout=int(fn.timeout),
            memory_size=int(fn.memory_size),
            environment=tuple(sorted((fn.environment_vars or {}).items())),
            layers=tuple(layer["Arn"] for layer in fn.layers),
            code_sha256=fn.code_sha_256,
            ephemeral_storage=int(fn.ephemeral_storage),
            role=fn.role or "",
        )
        return spec, fn.code_bytes


def _is_latest(backend: Any, fn: Any) -> bool:
    return backend._lambdas.get_function_by_name_forbid_qualifier(fn.function_name) is fn


def event_invoke_config(app: Any, spec: FunctionSpec) -> dict[str, Any]:
    """The function's PutFunctionEventInvokeConfig settings ({} when none). moto appends on every put: last one wins."""
    with app.moto_lock:
        try:
            fn = lambda_backend(spec.account, spec.region).get_function(spec.name)
        except UnknownFunctionException:
            return {}
        return dict(fn.event_invoke_config[-1].config) if fn.event_invoke_config else {}


def layer_version_zip(app: Any, account: str, region: str, arn: str) -> bytes | None:
    """The zip of a layer version that moto holds (published in this account), else None."""
    with app.moto_lock:
        layer = lambda_backend(account, region).layers_versions_by_arn(arn)
        return layer.code_bytes if layer is not None else None


def is_pandas_layer(arn: str) -> bool:
    match = _LAYER_ARN.match(arn)
    return bool(match) and match["name"].startswith(_PANDAS_LAYER_NAMES)


def is_managed_layer(arn: str) -> bool:
    match = _LAYER_ARN.match(arn)
    return bool(match) and (match["account"] in MANAGED_LAYER_ACCOUNTS or match["name"].startswith(MANAGED_LAYER_NAMES))


def allow_managed_layers() -> None:
    """Patch moto so that AWS-managed layer ARNs are accepted; others still go through moto's own check."""
    original = lambda_models.LambdaFunction._get_layers_data
    if getattr(original, "_localaws", False):
        return

    def _get_layers_data(self: Any, layers_versions_arns: list[str]) -> list[dict[str, Any]]:
        own = [arn for arn in layers_versions_arns if not is_managed_layer(arn)]
        known = {entry["Arn"]: entry for entry in original(self, own)} if own else {}
        return [known.get(arn) or {"Arn": arn, "CodeSize": 0} for arn in layers_versions_arns]

    _get_layers_data._localaws = True  # type: ignore[attr-defined]
    lambda_models.LambdaFunction._get_layers_data = _get_layers_data


def replace_event_invoke_config_on_put() -> None:
    """Patch moto so that Put replaces the function's event-invoke config and Update changes only the given fields.

    moto appends every Put to a list and answers Get with the first one, so a second Put never shows.
    https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionEventInvokeConfig.html ("overwrites")
    https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionEventInvokeConfig.html
    """
    backend_class = lambda_models.LambdaBackend
    if getattr(backend_class.put_function_event_invoke_config, "_localaws", False):
        return

    def store(backend: Any, function_name: str, config: dict[str, Any]) -> dict[str, Any]:
        fn = backend.get_function(function_name)
        event_config = lambda_models.EventInvokeConfig(fn.function_arn, fn.last_modified, config)
        fn.event_invoke_config = [event_config]
        return event_config.response()

    def put(self: Any, function_name: str, config: dict[str, Any]) -> dict[str, Any]:
        return store(self, function_name, config)

    def update(self: Any, function_name: str, config: dict[str, Any]) -> dict[str, Any]:
        fn = self.get_function(function_name)
        current = dict(fn.event_invoke_config[-1].config) if fn.event_invoke_config else {}
        return store(self, function_name, {**current, **config})

    put._localaws = True  # type: ignore[attr-defined]
    backend_class.put_function_event_invoke_config = put
    backend_class.update_function_event_invoke_config = update


def update_ephemeral_storage_on_update() -> None:
    """Patch moto so that UpdateFunctionConfiguration applies EphemeralStorage (moto ignores it, keeping the size the
    function was created with): https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionConfiguration.html"""
    function_class = lambda_models.LambdaFunction
    original = function_class.update_configuration
    if getattr(original, "_localaws", False):
        return

    def update_configuration(self: Any, config_updates: dict[str, Any]) -> Any:
        storage = (config_updates.get("EphemeralStorage") or {}).get("Size")
        if storage is not None:
            self.ephemeral_storage = int(storage)  # moto's setter refuses > 10240 with AWS's error
        return original(self, config_updates)

    update_configuration._localaws = True  # type: ignore[attr-defined]
    function_class.update_configuration = update_configuration


class CodeCache:
    """Extracted function and layer zips, one directory per content hash, and the environments' /tmp folders:
    `<temp dir>/localaws-lambda-*`, removed at shutdown (or at exit).

    A localaws process that was killed cannot remove its own, so each holds a flock on `<root>/owner.lock` while it
    lives, and the next localaws removes every such folder whose lock is free (folders without that file are left
    alone: a process that does not lock could still be using them)."""

    def __init__(self) -> None:
        self._root: Path | None = None
        self._owner: int | None = None
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        """Created on first use, so an app that never runs a function leaves nothing behind."""
        with self._lock:
            if self._root is None:
                remove_abandoned_caches(Path(tempfile.gettempdir()))
                root = Path(tempfile.mkdtemp(prefix=CACHE_PREFIX))
                # locked before it has its name, so a sweep never finds it unlocked while this process lives
                self._owner = os.open(root / f"{OWNER_LOCK}.new", os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.rename(root / f"{OWNER_LOCK}.new", root / OWNER_LOCK)
                self._root = root
                atexit.register(self.remove)
            return self._root

    def extract(self, kind: str, code: bytes) -> Path:
        target = self.root / kind / hashlib.sha256(code).hexdigest()
        with self._lock:
            if not target.is_dir():
                staging = target.with_name(target.name + ".partial")
                shutil.rmtree(staging, ignore_errors=True)
                with zipfile.ZipFile(io.BytesIO(code)) as archive:
                    archive.extractall(staging)
                staging.rename(target)
        return target

    def remove(self) -> None:
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
        if self._owner is not None:
            os.close(self._owner)
            self._owner = None


CACHE_PREFIX = "localaws-lambda-"
OWNER_LOCK = "owner.lock"


def remove_abandoned_caches(temp_dir: Path) -> list[Path]:
    """Remove the cache folders of localaws processes that died without removing them; returns them."""
    removed = []
    for folder in temp_dir.glob(f"{CACHE_PREFIX}*"):
        try:
            descriptor = os.open(folder / OWNER_LOCK, os.O_RDWR)
        except OSError:
            continue  # no lock file (or not ours to open): leave it
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # its localaws is alive
        finally:
            os.close(descriptor)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    if removed:
        log.info("removed %d Lambda cache folders of localaws processes that were killed", len(removed))
    return removed
