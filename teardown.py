"""Remove a stack built by provision.py, leaving nothing behind that costs money. Safe to re-run.

    .venv/bin/python teardown.py                  # stack "etl": asks you to type its name
    .venv/bin/python teardown.py --stack alice --yes
    .venv/bin/python teardown.py --all            # every stack of this kit in the account and region, found by tag
    .venv/bin/python teardown.py --dry-run        # list what would be deleted

It mirrors provision in reverse (notifications, permissions, queue mapping, functions, logs, queues, crawler and its
log stream, tables, database, workgroup, objects with every version, bucket, role policies, roles) and works from the
stack name alone, so it still finds everything when the .stacks/<stack>.json outputs file is gone.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from botocore.exceptions import ClientError

from kit.cli import DefaultOnceHelpFormatter
from kit.errors import explain, script_boundary
from kit.narrate import Narrator
from kit.session import Clients, CredentialsMissing, check_credentials, endpoint, open_session
from kit.stack import (
    DEFAULT_REGION,
    DEFAULT_STACK,
    Stack,
    StackNameError,
    outputs_path,
    remove_outputs,
    validate_stack_name,
)
from kit.teardown_steps import Teardown, find_stacks
from kit.waiting import WaitError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=(
            "Region: --region, else the region recorded in .stacks/<stack>.json, else AWS_REGION / "
            f"AWS_DEFAULT_REGION, else the profile's, else {DEFAULT_REGION}. Credentials come from the usual AWS "
            "chain (aws configure, AWS_PROFILE, environment variables); AWS_ENDPOINT_URL targets localaws."
        ),
        formatter_class=DefaultOnceHelpFormatter,
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--stack", default=DEFAULT_STACK, help="the stack to remove")
    which.add_argument("--all", action="store_true", help="find every stack of this kit by tag, list, ask, remove")
    parser.add_argument(
        "--region",
        help="AWS region of the stack (default: the region in .stacks/<stack>.json, else AWS_REGION, else "
        f"AWS_DEFAULT_REGION, else the profile's, else {DEFAULT_REGION})",
    )
    parser.add_argument("--profile", help="AWS named profile (default: AWS_PROFILE, else the default profile)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
    return parser.parse_args(argv)


class TeardownFailed(RuntimeError):
    """A step failed; the message names it and says how to resume."""


def recorded_region(stack: str) -> str | None:
    path = outputs_path(stack)
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("region")


def confirmed(prompt: str, expected: str, ask: Callable[[str], str]) -> bool:
    try:
        return ask(prompt).strip() == expected
    except EOFError:
        return False


def remove_stack(clients: Clients, stack: Stack, out: Callable[[str], None]) -> None:
    narrator = Narrator(total=0, out=out)
    teardown = Teardown(clients, stack, narrator)
    narrator.total = len(teardown.steps())
    out(f"Removing stack {stack.name} ({narrator.total} steps; each is safe to re-run).")
    try:
        teardown.run()
    except ClientError as error:
        step = f"step {narrator.number}/{narrator.total} ({narrator.current})"
        raise TeardownFailed(explain(error, step, clients.call_log.last, script="teardown.py")) from error
    remove_outputs(stack.name)
    left = teardown.existing()
    tagged = teardown.tagged()
    if left:
        out(f"Still present: {', '.join(left)}. Re-run teardown to retry.")
    elif tagged:
        out(
            f"Stack {stack.name} removed in {narrator.elapsed():.1f} s. The tagging index still lists "
            f"{len(tagged)} ARNs; it forgets deleted resources within minutes: {', '.join(tagged)}"
        )
    else:
        out(
            f"Stack {stack.name} removed in {narrator.elapsed():.1f} s; "
            f"nothing tagged etl-kit-stack={stack.name} remains."
        )


def main(argv: list[str] | None = None, out: Callable[[str], None] = print, ask: Callable[[str], str] = input) -> int:
    """Exit code 0 when removed (or nothing to remove), 1 when a step failed, 2 when the environment stopped it."""
    args = parse_args(argv)
    return script_boundary(lambda: teardown(args, out, ask), script="teardown.py", out=out)


def teardown(args: argparse.Namespace, out: Callable[[str], None], ask: Callable[[str], str]) -> int:
    try:
        if not args.all:
            validate_stack_name(args.stack)
        region_flag = args.region or (None if args.all else recorded_region(args.stack))
        session, region, source = open_session(args.profile, region_flag)
        check_credentials(session)
    except (StackNameError, CredentialsMissing) as error:
        out(str(error))
        return 2
    if region_flag and not args.region:
        source = f"{outputs_path(args.stack)}"
    out(f"Region {region} (from {source}) on {endpoint() or 'AWS'}.")
    clients = Clients(session)
    try:
        account = clients.account()
        names = find_stacks(clients, account, region) if args.all else [args.stack]
        if not names:
            out(f"No stacks of this kit found in account {account}, region {region}.")
            return 0
        stacks = [Stack(name, account, region) for name in names]
        for stack in stacks:
            survey = Teardown(clients, stack, Narrator(0, out))
            existing = survey.existing()
            listing = ", ".join(existing) if existing else "nothing left (teardown would only confirm)"
            out(f"Stack {stack.name} in account {account}: {listing}")
            if survey.foreign():
                out(f"  left alone (same names, not tagged etl-kit-stack={stack.name}): {', '.join(survey.foreign())}")
        if args.dry_run:
            out("Dry run: nothing deleted.")
            return 0
        if not args.yes:
            if args.all:
                prompt = f"Type 'all' to remove these {len(stacks)} stacks ({', '.join(names)}): "
                expected = "all"
            else:
                prompt, expected = f"Type the stack name ({args.stack}) to remove it: ", args.stack
            if not confirmed(prompt, expected, ask):
                out("Not confirmed; nothing deleted.")
                return 1
        for stack in stacks:
            remove_stack(clients, stack, out)
    except TeardownFailed as failure:
        out(str(failure))
        return 1
    except ClientError as error:
        out(explain(error, "finding the stack", clients.call_log.last, script="teardown.py"))
        return 1
    except WaitError as error:
        out(f"{error}; re-run `.venv/bin/python teardown.py` to continue.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
