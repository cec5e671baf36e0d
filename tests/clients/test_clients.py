"""Real Athena clients against localaws, each from its own pinned environment (requirements/clients-*.in, built by
`make clients`): an awswrangler + SQLAlchemy script, and a dbt-athena project (a seed, a view, two tables, an append
and an insert_overwrite incremental model) run twice, then `dbt test`. Only AWS_ENDPOINT_URL and fake credentials point
them at localaws.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from athena_tables import Shop, result_rows, run_query

pytestmark = [pytest.mark.localaws, pytest.mark.clients]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TIMEOUT = 900  # a hung client must not hang CI; a normal run takes a fraction of it


def client_python(name: str) -> Path:
    python = ROOT / f".venv-clients-{name}" / "bin" / "python"
    if not python.exists():
        message = f"{python} is missing: run `make clients`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return python


@pytest.fixture(scope="module")
def shop(localaws):
    return Shop(localaws.endpoint)


def client_env(localaws, shop: Shop) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(localaws.env())
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "SHOP_DATABASE": shop.database,
            "SHOP_OUTPUT": shop.output,
            "SHOP_DATA_DIR": f"s3://{shop.bucket}/dbt/",
            "SHOP_WORK_GROUP": shop.work_group,
        }
    )
    return env


def run(command: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{output[-20000:]}"
    return output


def test_awswrangler_and_sqlalchemy(localaws, shop: Shop, tmp_path: Path) -> None:
    python = client_python("wrangler")
    orders = shop.frames["orders"]
    document = {
        "database": shop.database,
        "bucket": shop.bucket,
        "work_group": shop.work_group,
        "output": shop.output,
        "orders": len(orders),
        "paid": int((orders.status == "paid").sum()),
        "orders_2024_03_01": int((orders.dt == "2024-03-01").sum()),
    }
    output = run(
        [str(python), str(HERE / "wrangler_suite.py"), json.dumps(document)], client_env(localaws, shop), tmp_path
    )
    assert "0 failing" in output, output


def count(shop: Shop, sql: str) -> list[list[str | None]]:
    execution = run_query(shop, sql)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    return result_rows(shop.athena, execution["QueryExecutionId"])[1][1:]


def test_dbt_project_runs_twice_then_tests(localaws, shop: Shop, tmp_path: Path) -> None:
    python = client_python("dbt")
    project = tmp_path / "project"
    shutil.copytree(HERE / "dbt_project", project)
    dbt = [str(python.parent / "dbt")]
    env = client_env(localaws, shop)
    env["DBT_PROFILES_DIR"] = str(project)
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    orders = shop.frames["orders"]
    for _ in range(2):
        run([*dbt, "seed", "--no-partial-parse"], env, project)
        run([*dbt, "run", "--no-partial-parse"], env, project)
        assert count(shop, "SELECT count(*), count(DISTINCT order_id) FROM orders_appended") == [
            [str(len(orders)), str(len(orders))]
        ]
        assert count(shop, "SELECT sum(orders) FROM orders_daily") == [[str(len(orders))]]
        assert count(shop, "SELECT count(*) FROM orders_by_status") == [[str(orders.status.nunique())]]
        assert count(shop, "SELECT count(*) FROM orders_labelled") == [[str(len(orders))]]
    run([*dbt, "test"], env, project)
