"""The suite is collected as one tree: a bare `from conftest import` resolves to whichever conftest.py pytest put on
sys.path first (tests/clients/ has one too), so a module that passes alone can fail to import in `make test`."""

import re
from pathlib import Path

BARE_CONFTEST_IMPORT = re.compile(r"^\s*(from conftest import|import conftest\b)", re.MULTILINE)


def test_no_test_module_imports_a_bare_conftest():
    offenders = [
        str(path.relative_to(Path(__file__).parent))
        for path in Path(__file__).parent.rglob("*.py")
        if BARE_CONFTEST_IMPORT.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], f"import from tests.conftest instead: {offenders}"
