"""Seeded generators for the benchmark's inputs: nested e-commerce orders, clean or messy, as NDJSON or a JSON array.

Files are cached under benchmarks/data/ (gitignored) and reused while their name (variant + size + generator
version) matches, so a rerun only pays for the transforms.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
GENERATOR_VERSION = 1  # bump when the records change, so stale cached files are not reused
SEED = 1729
MB = 1_000_000

CITIES = [
    ("Berlin", "DE", "EUR"),
    ("Munich", "DE", "EUR"),
    ("Paris", "FR", "EUR"),
    ("Lyon", "FR", "EUR"),
    ("Amsterdam", "NL", "EUR"),
    ("London", "GB", "GBP"),
    ("Manchester", "GB", "GBP"),
    ("New York", "US", "USD"),
    ("Chicago", "US", "USD"),
    ("Austin", "US", "USD"),
]
TAGS = ["apparel", "organic", "kitchen", "gift", "outdoor", "eco", "home", "electronics", "sale", "bestseller"]
STATUSES = ["placed", "shipped", "delivered", "delivered", "cancelled", "returned"]
METHODS = ["card", "paypal", "bank_transfer", "gift_card"]
START = datetime(2024, 1, 1, tzinfo=UTC)


def clean_order(rng: random.Random, number: int) -> dict:
    """One nested order: customer{address{}}, items[{..., tags[]}], payment{}, optional fields and nulls."""
    city, country, currency = rng.choice(CITIES)
    items = [
        {
            "sku": f"SKU-{rng.randrange(5000):05d}",
            "name": f"Product {rng.randrange(5000)}",
            "qty": rng.randint(1, 5),
            "unit_price": round(rng.uniform(1, 300), 2),
            "tags": rng.sample(TAGS, rng.randint(0, 3)),
        }
        for _ in range(rng.randint(1, 4))
    ]
    order = {
        "order_id": f"ORD-{number:09d}",
        "order_ts": (START + timedelta(seconds=number * 7 + rng.randrange(7))).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "status": rng.choice(STATUSES),
        "customer": {
            "customer_id": f"C-{rng.randrange(200_000):06d}",
            "name": f"Customer {rng.randrange(200_000)}",
            "email": None if rng.random() < 0.1 else f"user{rng.randrange(200_000)}@example.com",
            "address": {
                "street": f"{rng.randint(1, 999)} Main Street",
                "city": city,
                "country": country,
                "postcode": f"{rng.randrange(10_000, 99_999)}",
            },
        },
        "items": items,
        "payment": {
            "method": rng.choice(METHODS),
            "amount": round(sum(item["qty"] * item["unit_price"] for item in items), 2),
            "currency": currency,
        },
    }
    if rng.random() < 0.3:
        order["coupon_code"] = rng.choice(["SUMMER10", "WELCOME5", None])
    if rng.random() < 0.2:
        order["gift_message"] = None if rng.random() < 0.5 else "Happy birthday!"
    return order


def messy_order(rng: random.Random, number: int, fraction_done: float) -> dict:
    """A clean order with the drift real uploads have; every kind below occurs many times in any size.

    - type drift: US postcodes are ints, others strings; some amounts are ints; qty sometimes a string;
      discount is a number, a string like "10%", or null;
    - object vs scalar: now and then the address is a single string instead of an object;
    - late fields: loyalty{tier, points} and channel appear only in the last fifth of the file.
    """
    order = clean_order(rng, number)
    address = order["customer"]["address"]
    if address["country"] == "US":
        address["postcode"] = int(address["postcode"])
    if rng.random() < 0.05:
        order["payment"]["amount"] = round(order["payment"]["amount"])
    for item in order["items"]:
        if rng.random() < 0.02:
            item["qty"] = str(item["qty"])
    roll = rng.random()
    if roll < 0.1:
        order["discount"] = round(rng.uniform(0.05, 0.3), 2)
    elif roll < 0.15:
        order["discount"] = f"{rng.randint(5, 30)}%"
    elif roll < 0.2:
        order["discount"] = None
    if rng.random() < 0.005:
        order["customer"]["address"] = f"{address['street']}, {address['city']}"
    if fraction_done > 0.8:
        order["loyalty"] = {"tier": rng.choice(["silver", "gold", "platinum"]), "points": rng.randrange(10_000)}
        order["channel"] = rng.choice(["web", "app", "pos"])
    return order


def ndjson_lines(variant: str, target_bytes: int) -> Iterator[str]:
    """Lines of NDJSON until target_bytes is reached; the messy variant needs a size estimate for late fields."""
    rng = random.Random(SEED)
    written = 0
    number = 0
    while written < target_bytes:
        number += 1
        if variant == "messy":
            record = messy_order(rng, number, written / target_bytes)
        else:
            record = clean_order(rng, number)
        line = json.dumps(record, ensure_ascii=False) + "\n"
        written += len(line.encode())
        yield line


def input_path(variant: str, size_mb: int) -> Path:
    """variant: 'ndjson' or 'array' (clean orders) or 'messy' (NDJSON with drift)."""
    suffix = ".json" if variant == "array" else ".jsonl"
    return DATA_DIR / f"orders_{variant}_{size_mb}mb_v{GENERATOR_VERSION}{suffix}"


def ensure_input(variant: str, size_mb: int) -> tuple[Path, bool]:
    """The cached input file, generated on first use; returns (path, created)."""
    path = input_path(variant, size_mb)
    if path.exists():
        return path, False
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    if variant == "array":
        # The same records as the NDJSON file, as one JSON array.
        source, _ = ensure_input("ndjson", size_mb)
        with source.open(encoding="utf-8") as lines, partial.open("w", encoding="utf-8") as out:
            out.write("[\n")
            for index, line in enumerate(lines):
                out.write(line.rstrip("\n") if index == 0 else ",\n" + line.rstrip("\n"))
            out.write("\n]\n")
    else:
        with partial.open("w", encoding="utf-8") as out:
            out.writelines(ndjson_lines(variant, size_mb * MB))
    partial.rename(path)
    return path, True
