"""Regenerate the sample datasets (fixed seed, so the committed files are reproducible).

Layout: sample_data/<dataset>/<file>, uploaded as raw/<dataset>/<file>.
  orders/       clean nested orders in three formats: JSON array, NDJSON, gzip
  clickstream/  NDJSON events whose payload shape depends on the event type
  messy/        type drift, odd key names, nulls, a big integer, a BOM, one malformed file

Run: .venv/bin/python sample_data/generate.py   (then sample_data/expected_counts.py --write)
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20240601

CUSTOMERS = [
    ("C-001", "Anna Schmidt", "Hauptstraße 12", "Berlin", "DE", "10115"),
    ("C-002", "Lukas Weber", "Marienplatz 3", "Munich", "DE", "80331"),
    ("C-003", "Chloé Martin", "12 Rue de Rivoli", "Paris", "FR", "75004"),
    ("C-004", "Hugo Bernard", "5 Quai Saint-Antoine", "Lyon", "FR", "69002"),
    ("C-005", "Emma de Vries", "Damrak 70", "Amsterdam", "NL", "1012 LM"),
    ("C-006", "Oliver Smith", "221B Baker Street", "London", "GB", "NW1 6XE"),
    ("C-007", "Amelia Jones", "14 Deansgate", "Manchester", "GB", "M3 2EY"),
    ("C-008", "Liam Johnson", "350 Fifth Avenue", "New York", "US", "10118"),
    ("C-009", "Sophia Garcia", "1600 Vine Street", "Los Angeles", "US", "90028"),
    ("C-010", "Noah Brown", "233 S Wacker Dr", "Chicago", "US", "60606"),
]
CURRENCY = {"DE": "EUR", "FR": "EUR", "NL": "EUR", "GB": "GBP", "US": "USD"}
PRODUCTS = [
    ("SKU-TEE-01", "Organic cotton T-shirt", 19.99, ["apparel", "organic"]),
    ("SKU-HOOD-02", "Zip hoodie", 49.5, ["apparel"]),
    ("SKU-MUG-03", "Ceramic mug", 12.0, ["kitchen", "gift"]),
    ("SKU-BOT-04", "Steel water bottle", 24.95, ["outdoor", "eco"]),
    ("SKU-LAMP-05", "Desk lamp", 39.0, ["home"]),
    ("SKU-BAG-06", "Canvas tote bag", 15.25, ["accessories", "eco", "gift"]),
    ("SKU-HEAD-07", "Wireless headphones", 129.0, ["electronics"]),
    ("SKU-CHRG-08", "USB-C charger", 29.99, ["electronics", "bestseller"]),
]
STATUSES = [
    "placed",
    "placed",
    "shipped",
    "shipped",
    "delivered",
    "delivered",
    "delivered",
    "cancelled",
    "returned",
]
PAYMENT_METHODS = ["card", "card", "card", "paypal", "bank_transfer", "gift_card"]


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_order(rng: random.Random, number: int, day: datetime) -> dict:
    customer_id, name, street, city, country, postcode = rng.choice(CUSTOMERS)
    status = rng.choice(STATUSES)
    items = []
    # An order cancelled before checkout has no lines: an empty array of objects gives no child rows.
    line_count = 0 if status == "cancelled" and rng.random() < 0.5 else rng.randint(1, 4)
    for sku, product, price, tags in rng.sample(PRODUCTS, line_count):
        items.append(
            {
                "sku": sku,
                "name": product,
                "qty": rng.randint(1, 3),
                "unit_price": price,
                "tags": rng.sample(tags, rng.randint(0, len(tags))),
            }
        )
    amount = round(sum(item["qty"] * item["unit_price"] for item in items), 2)
    order_ts = day + timedelta(seconds=rng.randint(0, 86_399))
    order = {
        "order_id": f"ORD-{number}",
        "order_ts": iso(order_ts),
        "status": status,
        "customer": {
            "customer_id": customer_id,
            "name": name,
            "email": None if rng.random() < 0.15 else f"{name.split()[0].lower()}@example.com",
            "address": {"street": street, "city": city, "country": country, "postcode": postcode},
        },
        "items": items,
        "payment": {"method": rng.choice(PAYMENT_METHODS), "amount": amount, "currency": CURRENCY[country]},
    }
    # Optional fields: present on some orders only, sometimes present but null.
    if rng.random() < 0.3:
        order["coupon_code"] = rng.choice(["SUMMER10", "WELCOME5", None])
    if status in ("shipped", "delivered", "returned"):
        order["shipped_at"] = iso(order_ts + timedelta(hours=rng.randint(4, 60)))
    if rng.random() < 0.2:
        order["gift_message"] = rng.choice(["Happy birthday!", "Congrats 🎉", None])
    return order


def write_orders(rng: random.Random, root: Path) -> None:
    folder = root / "orders"
    folder.mkdir(exist_ok=True)
    number = 10001
    batches = []
    for day_offset, count in enumerate((18, 14, 12)):
        day = datetime(2024, 6, 1, tzinfo=UTC) + timedelta(days=day_offset)
        batches.append([make_order(rng, number + i, day) for i in range(count)])
        number += count
    # A pretty-printed JSON array, as a typical export tool writes it.
    (folder / "orders_2024-06-01.json").write_text(
        json.dumps(batches[0], indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    # NDJSON with a blank line in the middle (allowed) and a trailing newline.
    lines = [json.dumps(order, ensure_ascii=False) for order in batches[1]]
    lines.insert(7, "")
    (folder / "orders_2024-06-02.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # A gzip-compressed JSON array; mtime=0 keeps the bytes reproducible.
    payload = json.dumps(batches[2], ensure_ascii=False).encode("utf-8")
    (folder / "orders_2024-06-03.json.gz").write_bytes(gzip.compress(payload, mtime=0))


DEVICES = [
    {"type": "desktop", "os": "Windows 11", "browser": "Chrome", "screen": {"width": 1920, "height": 1080}},
    {"type": "desktop", "os": "macOS 14", "browser": "Safari", "screen": {"width": 2560, "height": 1440}},
    {"type": "mobile", "os": "iOS 17", "browser": "Safari", "screen": {"width": 390, "height": 844}},
    {"type": "mobile", "os": "Android 14", "browser": "Chrome", "screen": {"width": 412, "height": 915}},
    {"type": "tablet", "os": "iPadOS 17", "browser": "Safari", "screen": {"width": 820, "height": 1180}},
]
PAGES = ["/", "/products/tees", "/products/SKU-MUG-03", "/cart", "/checkout", "/blog/eco-living"]
REFERRERS = ["https://www.google.com/", "https://duckduckgo.com/", None, "https://news.example.org/post/42"]
QUERIES = [
    ("mug", 3),
    ("hoodie", 1),
    ("usb c charger", 2),
    ("gift ideas", 14),
    ("eco bottle", 1),
    ("xyzzy", 0),
]
EXPERIMENTS = ["checkout_v2", "new_search", "dark_mode", "free_shipping_banner"]


def make_payload(rng: random.Random, event_type: str, purchase_number: int) -> dict:
    if event_type == "page_view":
        return {"url": "https://shop.example.com" + rng.choice(PAGES), "referrer": rng.choice(REFERRERS)}
    if event_type == "add_to_cart":
        return {"sku": rng.choice(PRODUCTS)[0], "qty": rng.randint(1, 3)}
    if event_type == "search":
        query, results = rng.choice(QUERIES)
        payload = {"query": query, "results": results}
        if rng.random() < 0.5:
            payload["filters"] = rng.sample(["in_stock", "eco", "under_50", "free_shipping"], rng.randint(1, 2))
        return payload
    lines = [
        {"sku": sku, "qty": rng.randint(1, 2), "price": price}
        for sku, _, price, _ in rng.sample(PRODUCTS, rng.randint(1, 3))
    ]
    amount = round(sum(line["qty"] * line["price"] for line in lines), 2)
    return {"order_id": f"ORD-{purchase_number}", "amount": amount, "items": lines}


def make_session(rng: random.Random, session_number: int, start: datetime, purchase_number: int) -> list[dict]:
    user_id = None if rng.random() < 0.25 else f"U-{rng.randint(100, 140)}"
    device = rng.choice(DEVICES)
    experiments = rng.sample(EXPERIMENTS, rng.randint(0, 2))
    browse = ["page_view", "search", "page_view", "add_to_cart"]
    # About half the sessions buy; the others leave somewhere along the way.
    flow = [*browse, "page_view", "purchase"] if rng.random() < 0.5 else browse[: rng.randint(1, len(browse))]
    events = []
    ts = start
    for event_type in flow:
        ts += timedelta(seconds=rng.randint(3, 240), milliseconds=rng.randint(0, 999))
        events.append(
            {
                "event_id": f"evt-{session_number:03d}-{len(events) + 1}",
                "event_type": event_type,
                "ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "user_id": user_id,
                "session_id": f"S-{session_number:03d}",
                "device": device,
                "experiments": experiments,
                "payload": make_payload(rng, event_type, purchase_number),
            }
        )
    return events


def write_clickstream(rng: random.Random, root: Path) -> None:
    folder = root / "clickstream"
    folder.mkdir(exist_ok=True)
    session_number = 1
    for hour, session_count in ((9, 8), (14, 7)):
        events = []
        for _ in range(session_count):
            start = datetime(2024, 6, 1, hour, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 50))
            events += make_session(rng, session_number, start, 20000 + session_number)
            session_number += 1
        events.sort(key=lambda event: event["ts"])
        text = "\n".join(json.dumps(event, ensure_ascii=False) for event in events) + "\n"
        (folder / f"events_2024-06-01T{hour:02d}.jsonl").write_text(text, encoding="utf-8")


def write_messy(root: Path) -> None:
    """Hand-written records: each one shows a case the transform must survive without losing a value."""
    folder = root / "messy"
    folder.mkdir(exist_ok=True)
    # File 1: a JSON array. "ID" and "id" collide once lowercased; "User.Name" has a dot; "Zip Code" a space;
    # price is an int here; legacy_flag is null in every record of every file; account_number exceeds int64.
    part1 = [
        {
            "ID": 1,
            "User.Name": "alice",
            "Zip Code": "02139",
            "price": 10,
            "quantity": 2,
            "legacy_flag": None,
            "created": "2024-06-01T08:00:00Z",
            "Tags": ["new", "vip"],
            "Line Items": [{"SKU": "A-1", "Qty": 1}, {"SKU": "B-2", "Qty": 3}],
        },
        {
            "ID": 2,
            "User.Name": "bob",
            "Zip Code": "10001",
            "price": 25,
            "quantity": 1,
            "legacy_flag": None,
            "created": "2024-06-01T09:30:00Z",
            "Tags": [],
            "Line Items": [{"SKU": "C-3", "Qty": 2}],
        },
        {
            "id": 3,
            "User.Name": None,
            "Zip Code": "94105",
            "price": 7,
            "quantity": None,
            "legacy_flag": None,
            "created": "2024-06-01T10:15:00Z",
            "account_number": 123456789012345678901234567890,
        },
        {
            "ID": 4,
            "User.Name": "dora",
            "price": 12,
            "quantity": 5,
            "legacy_flag": None,
            "created": "2024-06-01T11:45:00Z",
            "Tags": ["returning"],
            "Line Items": [],
        },
    ]
    (folder / "part-0001.json").write_text(json.dumps(part1, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    # File 2: NDJSON whose name has spaces (S3 sends the key URL-encoded: "export+2024-06-02.jsonl").
    # Drift against file 1: price is a decimal, quantity a string, "Zip Code" an int, ID a string;
    # within the file, score is int in one record and decimal in another; discount appears late; "meta" is a
    # nested object with dotted and spaced keys that only one record has.
    part2 = [
        {
            "ID": "5",
            "User.Name": "erin",
            "Zip Code": 60601,
            "price": 19.5,
            "quantity": "3",
            "legacy_flag": None,
            "created": "2024-06-02T08:05:00Z",
            "score": 4,
            "Tags": ["vip"],
            "Line Items": [{"SKU": "A-1", "Qty": 2}],
        },
        {
            "ID": "6",
            "User.Name": "frank",
            "Zip Code": 73301,
            "price": 5.25,
            "quantity": "1",
            "legacy_flag": None,
            "created": "2024-06-02T09:10:00Z",
            "score": 3.5,
            "meta": {"Source.System": "pos", "Store ID": 17},
        },
        {
            "ID": "7",
            "User.Name": "grace",
            "price": 100,
            "quantity": "2",
            "legacy_flag": None,
            "created": "2024-06-02T12:00:00Z",
            "discount": 0.15,
            "Line Items": [{"SKU": "D-4", "Qty": 1, "Note": "gift wrap"}, {"SKU": "E-5", "Qty": 1}],
        },
    ]
    text = "\n".join(json.dumps(record, ensure_ascii=False) for record in part2) + "\n"
    (folder / "export 2024-06-02.jsonl").write_text(text, encoding="utf-8")

    # File 3: a single object (not an array), UTF-8 with a byte-order mark, unicode and mixed-case keys.
    single = {
        "ID": 8,
        "User.Name": "Zoë",
        "Zip Code": "W1A 1AA",
        "price": 3,
        "quantity": 4,
        "legacy_flag": None,
        "created": "2024-06-03T07:00:00Z",
        "Größe": "XL",
        "CamelCaseKey": True,
        "Line Items": [{"SKU": "F-6", "Qty": 4}],
    }
    (folder / "single_record.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(single, ensure_ascii=False).encode())

    # File 4: truncated mid-record, as an interrupted upload leaves it: quarantined, never half-loaded.
    broken = json.dumps(part1[:2], indent=1)
    (folder / "broken_upload.json").write_text(broken[: broken.index('"Zip Code"', 200)], encoding="utf-8")


def generate(root: Path) -> list[Path]:
    """Write every sample file under root/<dataset>/; returns the files written."""
    rng = random.Random(SEED)
    write_orders(rng, root)
    write_clickstream(rng, root)
    write_messy(root)
    return sorted(path for folder in ("orders", "clickstream", "messy") for path in (root / folder).iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="where to write (default: sample_data/ itself)")
    root = parser.parse_args().out
    for path in generate(root):
        print(f"wrote {path.relative_to(root)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
