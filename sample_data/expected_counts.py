"""Count what the transform should produce from sample_data/, straight from the JSON (not using pipeline/).

The rules counted here are the documented array policy: one parent row per record, and one child row per
element of an array of objects, in the child dataset `<dataset>__<flattened field name>` (e.g. orders__items).
Arrays of scalars stay a column of the parent. A file that is not valid JSON/NDJSON is expected in quarantine.

Run: .venv/bin/python sample_data/expected_counts.py          print the counts and README.md's aggregates
     .venv/bin/python sample_data/expected_counts.py --write  also rewrite expected_counts.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPECTED_FILE = HERE / "expected_counts.json"
GZIP_MAGIC = b"\x1f\x8b"


def sample_files() -> list[Path]:
    """Every uploadable sample file, as sample_data/<dataset>/<file>."""
    return sorted(path for path in HERE.glob("*/*") if path.is_file() and not path.parent.name.startswith(("_", ".")))


def read_records(path: Path) -> list[dict]:
    """Parse one file as the transform should: gzip by magic bytes, optional BOM, array / object / NDJSON.

    Raises ValueError (json.JSONDecodeError is one) when the file is not valid input.
    """
    data = path.read_bytes()
    if data[:2] == GZIP_MAGIC:
        data = gzip.decompress(data)
    text = data.decode("utf-8-sig")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as whole_file_error:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) < 2:
            raise
        try:
            document = [json.loads(line) for line in lines]
        except json.JSONDecodeError:
            raise whole_file_error from None
    records = document if isinstance(document, list) else [document]
    if not all(isinstance(record, dict) for record in records):
        raise ValueError(f"{path.name}: expected JSON objects")
    return records


def column_name(path: list[str]) -> str:
    return re.sub(r"[^a-z0-9_]", "_", "_".join(path).lower())


def child_arrays(record: dict, prefix: list[str] | None = None) -> dict[str, list[dict]]:
    """The arrays of objects in one record, by flattened field name (nested objects are walked into)."""
    found: dict[str, list[dict]] = {}
    for key, value in record.items():
        path = [*(prefix or []), key]
        if isinstance(value, dict):
            found.update(child_arrays(value, path))
        elif isinstance(value, list) and any(isinstance(element, dict) for element in value):
            for element in value:
                # Grandchildren would make the counts depend on more policy than the sample data needs.
                if child_arrays(element):
                    raise ValueError(f"nested array of objects under {column_name(path)}")
            found[column_name(path)] = value
    return found


def count_rows(files: list[Path]) -> dict:
    """Rows per table, rows per (table, file), and the files expected in quarantine."""
    tables: Counter[str] = Counter()
    per_file: dict[str, dict[str, int]] = {}
    quarantined: list[str] = []
    for path in files:
        dataset = path.parent.name
        key = f"{dataset}/{path.name}"
        try:
            records = read_records(path)
        except (ValueError, UnicodeDecodeError, EOFError):
            quarantined.append(key)
            continue
        counts: Counter[str] = Counter({dataset: len(records)})
        for record in records:
            for field, elements in child_arrays(record).items():
                counts[f"{dataset}__{field}"] += len(elements)
        # A child table exists only if some record had an element for it (an empty array writes no rows).
        per_file[key] = {table: rows for table, rows in sorted(counts.items()) if rows}
        tables.update(per_file[key])
    return {"tables": dict(sorted(tables.items())), "files": per_file, "quarantined": quarantined}


def order_aggregates(files: list[Path]) -> dict[str, Counter]:
    """The figures README.md quotes for the orders dataset, so a learner can check their Athena results."""
    orders = [record for path in files if path.parent.name == "orders" for record in read_records(path)]
    by_status: Counter[str] = Counter(order["status"] for order in orders)
    by_country: Counter[str] = Counter(order["customer"]["address"]["country"] for order in orders)
    by_city: Counter[str] = Counter(order["customer"]["address"]["city"] for order in orders)
    revenue: Counter[str] = Counter()
    for order in orders:
        if order["status"] != "cancelled":
            revenue[order["payment"]["currency"]] += order["payment"]["amount"]
    tag_uses: Counter[str] = Counter(tag for order in orders for item in order["items"] for tag in item["tags"])
    return {"status": by_status, "country": by_country, "city": by_city, "revenue": revenue, "tags": tag_uses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help=f"rewrite {EXPECTED_FILE.name}")
    args = parser.parse_args()
    files = sample_files()
    expected = count_rows(files)
    print("| table | rows |\n|---|---:|")
    for table, rows in expected["tables"].items():
        print(f"| {table} | {rows} |")
    print(f"\nquarantined: {', '.join(expected['quarantined'])}\n")
    for name, counter in order_aggregates(files).items():
        pairs = sorted(counter.items(), key=lambda pair: (-pair[1], pair[0]))
        print(f"orders by {name}: " + ", ".join(f"{key} {round(value, 2)}" for key, value in pairs))
    if args.write:
        EXPECTED_FILE.write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {EXPECTED_FILE.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
