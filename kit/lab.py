"""`make lab`: open the tutorial notebooks in JupyterLab, connected to localaws (the default) or to your AWS account.

Steps:
1. local: start localaws in the background on a free loopback port (or use the one --endpoint names);
   aws: check that AWS credentials are configured;
2. provision the stack with the unchanged provision.py (on AWS only when the stack does not exist yet, and only after
   you confirm, since it creates billable resources; --yes skips the question);
3. run JupyterLab on notebooks/, bound to 127.0.0.1, with the environment that sends boto3 and pyathena in every
   kernel to the right endpoint (AWS_ENDPOINT_URL and fake credentials locally) and names the stack (ETL_STACK).
Ctrl-C (or SIGTERM) stops what it started: JupyterLab first, then localaws.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping

import boto3
from botocore.exceptions import ClientError

from kit import stack as stack_names
from kit.errors import script_boundary
from kit.local_endpoint import FAKE_CREDENTIALS, LocalAwsProcess, console_url, is_localaws
from kit.tutorial import STACK_ENV

ROOT = stack_names.ROOT
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_JUPYTER_PORT = 8888
PORTS_TO_TRY = 50  # as JupyterLab's own ServerApp.port_retries
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
        # The port was checked free (free_port); never let JupyterLab move elsewhere, or the URL printed is wrong.
        "--ServerApp.port_retries=0",
    ]
    if not open_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # JupyterLab refuses root unless told; containers often run as root, and the server is loopback-only.
        command.append("--allow-root")
    return command


class PortTaken(RuntimeError):
    """The port asked for (PORT=...) is in use; the message names a free one."""


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(port: int | None) -> int:
    """The port JupyterLab will serve on: `port` when given and free (else PortTaken), or the first free one from 8888.

    Choosing it here, not in JupyterLab (which silently moves to the next port), keeps the URL printed right.
    """
    if port is not None:
        if not port_is_free(port):
            alternative = next((p for p in range(port + 1, port + PORTS_TO_TRY) if port_is_free(p)), None)
            suggestion = f": try `make lab PORT={alternative}`" if alternative else ""
            raise PortTaken(f"Port {port} is taken (another `make lab` or JupyterLab?){suggestion}.")
        return port
    for candidate in range(DEFAULT_JUPYTER_PORT, DEFAULT_JUPYTER_PORT + PORTS_TO_TRY):
        if port_is_free(candidate):
            return candidate
    raise PortTaken(
        f"Ports {DEFAULT_JUPYTER_PORT}-{DEFAULT_JUPYTER_PORT + PORTS_TO_TRY - 1} are all taken: pass PORT=..."
    )


def provision(stack: str, env: Mapping[str, str]) -> int:
    """Run provision.py unchanged; its narration goes straight to the terminal (its Next: lines are ours to say)."""
    command = [sys.executable, "provision.py", "--stack", stack, "--no-next-steps"]
    return subprocess.run(command, cwd=ROOT, env=dict(env)).returncode


def aws_account(env: Mapping[str, str]) -> str | None:
    """The AWS account the user's credentials belong to, or None when none are configured.

    Expired or refused credentials, a stopped endpoint or a missing region raise, for the script's error boundary.
    """
    session = boto3.session.Session(profile_name=env.get("AWS_PROFILE") or None)
    if session.get_credentials() is None:
        return None
    return session.client("sts").get_caller_identity()["Account"]


def stack_exists(stack: str) -> bool:
    """True when provision.py wrote the stack's outputs and its bucket is still there."""
    try:
        outputs = stack_names.load_outputs(stack)
    except FileNotFoundError:
        return False
    try:
        boto3.client("s3", region_name=outputs["region"]).head_bucket(Bucket=outputs["bucket"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "403"):
            return False
        raise
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


def _opening(port: int) -> str:
    return f"\nOpening JupyterLab on notebooks/ at http://127.0.0.1:{port}/lab (use the token URL it prints below)."


def run_local(stack: str, port: int, open_browser: bool, endpoint: str | None = None) -> int:
    """On localaws: a fresh one of our own, stopped at the end; or the one at `endpoint`, left running."""
    if endpoint:
        if not is_localaws(endpoint):
            print(f"Nothing answers as localaws at {endpoint}: start it with `make localaws`, or drop ENDPOINT=.")
            return 2
        print(f"Using localaws at {endpoint} (it keeps running after the lab).", flush=True)
        print(f"  the localaws console (the pipeline, live): {console_url(endpoint, stack)}", flush=True)
        env = lab_env(os.environ, stack=stack, endpoint=endpoint)
        print(f"Provisioning stack '{stack}' on it with the unchanged provision.py (safe to re-run)…", flush=True)
        if provision(stack, env) != 0:
            return 1
        print(_opening(port) + " Ctrl-C stops it.\n", flush=True)
        try:
            return run_jupyter(jupyter_command(port, open_browser), env)
        except KeyboardInterrupt:
            return 130
    log_path = stack_names.stacks_dir() / "localaws-lab.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print("Starting localaws (the local AWS endpoint) on a free loopback port…", flush=True)
    server = LocalAwsProcess(log_path=log_path)
    try:
        print(f"  localaws is serving {server.endpoint} (log: {stack_names.shown_path(log_path)})", flush=True)
        print(f"  the localaws console (the pipeline, live): {console_url(server.endpoint, stack)}", flush=True)
        env = lab_env(os.environ, stack=stack, endpoint=server.endpoint)
        print(f"Provisioning stack '{stack}' on localaws with the unchanged provision.py…", flush=True)
        if provision(stack, env) != 0:
            print("provision.py failed (see above); stopping localaws.", file=sys.stderr)
            return 1
        print(_opening(port) + " Ctrl-C stops it and localaws; nothing is billed.\n", flush=True)
        return run_jupyter(jupyter_command(port, open_browser), env)
    except KeyboardInterrupt:
        return 130
    finally:
        print("Stopping localaws…", flush=True)
        server.stop()
        print("Stopped.", flush=True)


def confirmed_billable(stack: str, account: str, region: str, ask: Callable[[str], str]) -> bool:
    """Ask before provisioning on AWS: only 'yes' goes ahead (an empty answer or end of input does not)."""
    prompt = (
        f"Stack '{stack}' does not exist in AWS account {account} ({region}). Provisioning it creates billable "
        "resources (S3, Lambda, Glue, Athena, CloudWatch Logs; cents per lab, see docs/classroom.md) until you run "
        f"teardown.py. Type 'yes' to create it: "
    )
    try:
        return ask(prompt).strip().lower() == "yes"
    except EOFError:
        return False


def run_aws(
    stack: str, port: int, open_browser: bool, assume_yes: bool = False, ask: Callable[[str], str] = input
) -> int:
    env = lab_env(os.environ, stack=stack, endpoint=None)
    account = aws_account(env)
    if account is None:
        print(
            "No AWS credentials configured. Next: run `aws configure` (or set AWS_PROFILE), "
            "or run `make lab` (without TARGET=aws) to use the local pipeline on localaws.",
            file=sys.stderr,
        )
        return 2
    region = boto3.session.Session(profile_name=env.get("AWS_PROFILE") or None).region_name or "your default region"
    print(f"Using AWS account {account}.", flush=True)
    if stack_exists(stack):
        print(f"Stack '{stack}' exists (outputs in {stack_names.shown_path(stack_names.outputs_path(stack))}).")
    else:
        if not assume_yes and not confirmed_billable(stack, account, region, ask):
            print("Not confirmed: nothing was created. (`make lab TARGET=aws YES=1` skips this question.)")
            return 1
        print(f"Provisioning stack '{stack}' with provision.py…", flush=True)
        if provision(stack, env) != 0:
            return 1
    print(_opening(port) + " Ctrl-C stops it.")
    print(f"When you are done: `.venv/bin/python teardown.py --stack {stack}` (or run 07_teardown.ipynb).\n")
    try:
        return run_jupyter(jupyter_command(port, open_browser), env)
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kit.lab", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default=stack_names.DEFAULT_STACK, help="stack name (default: %(default)s)")
    parser.add_argument(
        "--target",
        choices=("local", "aws"),
        default="local",
        help="local: start localaws and provision there (default); aws: your AWS credentials and account",
    )
    parser.add_argument(
        "--port", type=int, help=f"JupyterLab port (default: the first free one from {DEFAULT_JUPYTER_PORT})"
    )
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    parser.add_argument("--endpoint", help="local only: use the localaws already serving here instead of a new one")
    parser.add_argument("--yes", action="store_true", help="aws only: provision a missing stack without asking")
    args = parser.parse_args(argv)
    stack_names.validate_stack_name(args.stack)
    try:
        port = free_port(args.port)
    except PortTaken as taken:
        print(taken, file=sys.stderr)
        return 2
    # Ctrl-C and SIGTERM (e.g. from a process manager) stop everything the same way, even when this process was
    # started with SIGINT ignored (as background jobs of a non-interactive shell are).
    previous = {number: signal.signal(number, _raise_keyboard_interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        if args.target == "local":
            return script_boundary(
                lambda: run_local(args.stack, port, not args.no_browser, args.endpoint), script="make lab"
            )
        return script_boundary(
            lambda: run_aws(args.stack, port, not args.no_browser, args.yes), script="make lab TARGET=aws"
        )
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


if __name__ == "__main__":
    sys.exit(main())
