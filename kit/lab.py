"""`make lab`: open the tutorial notebooks in JupyterLab, connected to localaws (the default) or to your AWS account.

Steps:
1. local: start localaws in the background on a free loopback port;
   aws: check that AWS credentials are configured;
2. provision the stack with the unchanged provision.py (on AWS only when the stack does not exist yet);
3. run JupyterLab on notebooks/, bound to 127.0.0.1, with the environment that sends boto3 and pyathena in every
   kernel to the right endpoint (AWS_ENDPOINT_URL and fake credentials locally) and names the stack (ETL_STACK).
Ctrl-C (or SIGTERM) stops what it started: JupyterLab first, then localaws.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from kit import stack as stack_names
from kit.local_endpoint import FAKE_CREDENTIALS, LocalAwsProcess
from kit.tutorial import STACK_ENV

ROOT = stack_names.ROOT
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_JUPYTER_PORT = 8888
# Variables that would send a local lab's clients somewhere other than localaws, or an AWS lab's to localaws.
_LOCAL_DROPS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")


def lab_env(
    base: Mapping[str, str], *, stack: str, endpoint: str | None, region: str = stack_names.DEFAULT_REGION
) -> dict[str, str]:
    """The environment of provision.py and of JupyterLab's kernels.

    endpoint: the localaws endpoint, or None for AWS (the user's own credentials and region are kept as they are).
    """
    env = dict(base)
    env[STACK_ENV] = stack
    if endpoint is None:
        for name in [name for name in env if name.startswith("AWS_ENDPOINT_URL")]:
            del env[name]
        return env
    for name in _LOCAL_DROPS:
        env.pop(name, None)
    for name in [name for name in env if name.startswith("AWS_ENDPOINT_URL_")]:
        del env[name]  # a per-service endpoint would win over AWS_ENDPOINT_URL
    env.update(FAKE_CREDENTIALS)
    env.update({"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": region, "AWS_DEFAULT_REGION": region})
    return env


def jupyter_command(port: int, open_browser: bool) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--notebook-dir",
        str(NOTEBOOKS),
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
    ]
    if not open_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # JupyterLab refuses root unless told; containers often run as root, and the server is loopback-only.
        command.append("--allow-root")
    return command


def provision(stack: str, env: Mapping[str, str]) -> int:
    """Run provision.py unchanged; its narration goes straight to the terminal."""
    return subprocess.run([sys.executable, "provision.py", "--stack", stack], cwd=ROOT, env=dict(env)).returncode


def aws_account(env: Mapping[str, str]) -> str | None:
    """The AWS account the user's credentials belong to, or None when there are none that work."""
    session = boto3.session.Session(profile_name=env.get("AWS_PROFILE") or None)
    if session.get_credentials() is None:
        return None
    try:
        return session.client("sts").get_caller_identity()["Account"]
    except (ClientError, BotoCoreError):
        return None


def stack_exists(stack: str) -> bool:
    """True when provision.py wrote the stack's outputs and its bucket is still there."""
    try:
        outputs = stack_names.load_outputs(stack)
    except FileNotFoundError:
        return False
    try:
        boto3.client("s3", region_name=outputs["region"]).head_bucket(Bucket=outputs["bucket"])
    except ClientError:
        return False
    return True


def run_jupyter(command: list[str], env: Mapping[str, str]) -> int:
    """Run JupyterLab until it exits, or until Ctrl-C/SIGTERM here, which stops it without its y/n prompt."""
    # Its own session: the terminal's Ctrl-C reaches this process only, which then stops JupyterLab cleanly.
    jupyter = subprocess.Popen(command, cwd=ROOT, env=dict(env), start_new_session=True)
    try:
        return jupyter.wait()
    except KeyboardInterrupt:
        print("\nStopping JupyterLab…", flush=True)
        jupyter.terminate()
        try:
            jupyter.wait(timeout=30)
        except subprocess.TimeoutExpired:
            jupyter.kill()
        return 0


def _raise_keyboard_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_local(stack: str, port: int, open_browser: bool) -> int:
    log_path = stack_names.stacks_dir() / "localaws-lab.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print("Starting localaws (the local AWS endpoint) on a free loopback port…", flush=True)
    server = LocalAwsProcess(log_path=log_path)
    try:
        print(f"  localaws is serving {server.endpoint} (log: {_shown(log_path)})", flush=True)
        env = lab_env(os.environ, stack=stack, endpoint=server.endpoint)
        print(f"Provisioning stack '{stack}' on localaws with the unchanged provision.py…", flush=True)
        if provision(stack, env) != 0:
            print("provision.py failed (see above); stopping localaws.", file=sys.stderr)
            return 1
        print(f"\nOpening JupyterLab on notebooks/ (http://127.0.0.1:{port}/lab). Ctrl-C stops it and localaws.\n")
        return run_jupyter(jupyter_command(port, open_browser), env)
    except KeyboardInterrupt:
        return 130
    finally:
        print("Stopping localaws…", flush=True)
        server.stop()
        print("Stopped.", flush=True)


def run_aws(stack: str, port: int, open_browser: bool) -> int:
    env = lab_env(os.environ, stack=stack, endpoint=None)
    account = aws_account(env)
    if account is None:
        print(
            "No working AWS credentials. Configure them with `aws configure` or set AWS_PROFILE, "
            "or run `make lab` (without TARGET=aws) to use the local pipeline on localaws.",
            file=sys.stderr,
        )
        return 2
    print(f"Using AWS account {account}.", flush=True)
    if stack_exists(stack):
        print(f"Stack '{stack}' exists (outputs in {_shown(stack_names.outputs_path(stack))}).")
    else:
        print(f"Stack '{stack}' is not provisioned yet: running provision.py (it creates billable resources)…")
        if provision(stack, env) != 0:
            return 1
    print(f"\nOpening JupyterLab on notebooks/ (http://127.0.0.1:{port}/lab). Ctrl-C stops it.")
    print(f"When you are done: `python teardown.py --stack {stack}` (or run 07_teardown.ipynb).\n")
    try:
        return run_jupyter(jupyter_command(port, open_browser), env)
    except KeyboardInterrupt:
        return 130


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kit.lab", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default=stack_names.DEFAULT_STACK, help="stack name (default: %(default)s)")
    parser.add_argument(
        "--target",
        choices=("local", "aws"),
        default="local",
        help="local: start localaws and provision there (default); aws: your AWS credentials and account",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_JUPYTER_PORT, help="JupyterLab port (default %(default)s)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    args = parser.parse_args(argv)
    stack_names.validate_stack_name(args.stack)
    # Ctrl-C and SIGTERM (e.g. from a process manager) stop everything the same way, even when this process was
    # started with SIGINT ignored (as background jobs of a non-interactive shell are).
    previous = {number: signal.signal(number, _raise_keyboard_interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        run = run_local if args.target == "local" else run_aws
        return run(args.stack, args.port, open_browser=not args.no_browser)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


if __name__ == "__main__":
    sys.exit(main())
