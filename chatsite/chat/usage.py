"""Token usage for the admin: sums per day, person and model, estimated cost from the admin's
price table (ModelPrice), and the bar charts of the usage page as plain SVG geometry.

The database sums (one grouped query: person × day × model); Python only lays out the result.
Per-kind numbers come from the stored `usage` (total_input_tokens, total_output_tokens,
total_thought_tokens); tokens a turn did not split by kind (older turns keep only the total)
are priced as input, the cheapest guess that is never zero.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import BigIntegerField, Case, Count, Sum, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, TruncDate
from django.utils import timezone

from .models import ModelPrice, Turn

KINDS = {"input": "total_input_tokens", "output": "total_output_tokens",
         "thinking": "total_thought_tokens"}  # fmt: skip
MILLION = Decimal(1_000_000)
TOP_PEOPLE = 10


def prices() -> dict[str, ModelPrice]:
    return {price.model: price for price in ModelPrice.objects.all()}


def cost(model: str, tokens: dict, price_table: dict) -> Decimal | None:
    """Estimated cost of `tokens` ({input, output, thinking, total}) on `model`; None if the
    model has no price."""
    price = price_table.get(model)
    if price is None:
        return None
    split = tokens["input"] + tokens["output"] + tokens["thinking"]
    unsplit = max(tokens["total"] - split, 0)
    return (
        (tokens["input"] + unsplit) * price.input_per_million
        + tokens["output"] * price.output_per_million
        + tokens["thinking"] * price.thinking_per_million
    ) / MILLION


def turn_tokens(turn: Turn) -> dict:
    usage = turn.usage if isinstance(turn.usage, dict) else {}

    def number(key):
        value = usage.get(key)
        return value if isinstance(value, int) and value > 0 else 0

    return {kind: number(key) for kind, key in KINDS.items()} | {"total": turn.total_tokens}


def turn_cost(turn: Turn, price_table: dict) -> Decimal | None:
    return cost(turn.model, turn_tokens(turn), price_table)


@dataclass
class Tally:
    """Sums for one bar, one person, one model or one day."""

    key: object = None
    label: str = ""
    turns: int = 0
    input: int = 0
    output: int = 0
    thinking: int = 0
    total: int = 0
    cost: Decimal = Decimal(0)
    unpriced: int = 0  # tokens of models with no price

    def add(self, row: dict, row_cost: Decimal | None) -> None:
        self.turns += row["turns"]
        for kind in ("input", "output", "thinking", "total"):
            setattr(self, kind, getattr(self, kind) + row[kind])
        if row_cost is None:
            self.unpriced += row["total"]
        else:
            self.cost += row_cost

    @property
    def tokens(self) -> int:
        return self.total


@dataclass
class Report:
    first: date
    days: list[Tally]  # oldest first, one per day of the window
    people: list[Tally]  # most tokens first
    models: list[Tally]
    total: Tally
    rows: list[dict] = field(default_factory=list)  # person × day × model, for the CSV

    @property
    def top_people(self) -> list[Tally]:
        return self.people[:TOP_PEOPLE]


def grouped_rows(first: date, owner_id=None) -> list[dict]:
    """One row per person × day × model since `first` (local days), summed by the database."""
    since = timezone.make_aware(datetime.combine(first, time.min))
    username = f"conversation__owner__{get_user_model().USERNAME_FIELD}"
    turns = Turn.objects.filter(created_at__gte=since)
    if owner_id is not None:
        turns = turns.filter(conversation__owner_id=owner_id)

    def kind(key):
        # Only whole non-negative numbers are summed: usage is the API's JSON, and a string or
        # a fraction there must not fail the cast (PostgreSQL would raise) nor count.
        number = When(**{f"usage__{key}__regex": r"^[0-9]{1,15}$"},
                      then=Cast(KT(f"usage__{key}"), BigIntegerField()))  # fmt: skip
        return Coalesce(Sum(Case(number, default=Value(0))), 0)

    rows = (
        turns.annotate(day=TruncDate("created_at"))
        .values("conversation__owner_id", username, "day", "model")
        .annotate(
            turns=Count("pk"),
            total=Coalesce(Sum("total_tokens"), 0),
            **{name: kind(key) for name, key in KINDS.items()},
        )
        .order_by()
    )
    return [
        {
            "owner": row["conversation__owner_id"],
            "username": row[username],
            "day": row["day"],
            "model": row["model"] or "(none)",
            **{k: row[k] for k in ("turns", "total", "input", "output", "thinking")},
        }
        for row in rows
    ]


def report(days: int, owner_id=None) -> Report:
    first = timezone.localdate() - timedelta(days=days - 1)
    price_table = prices()
    rows = grouped_rows(first, owner_id)
    per_day = {first + timedelta(days=i): Tally(key=first + timedelta(days=i)) for i in range(days)}
    people: dict[int, Tally] = {}
    models: dict[str, Tally] = {}
    total = Tally(label="Everyone")
    for row in rows:
        row_cost = cost(row["model"], row, price_table)
        row["cost"] = row_cost
        tallies = [
            people.setdefault(row["owner"], Tally(key=row["owner"], label=row["username"])),
            models.setdefault(row["model"], Tally(key=row["model"], label=row["model"])),
            total,
        ]
        if row["day"] in per_day:  # else a time-zone edge: counted in the totals only
            tallies.append(per_day[row["day"]])
        for tally in tallies:
            tally.add(row, row_cost)
    by_tokens = lambda t: (-t.total, -t.turns, t.label)  # noqa: E731
    rows.sort(key=lambda r: (r["day"], r["username"], r["model"]))
    return Report(
        first=first,
        days=list(per_day.values()),
        people=sorted(people.values(), key=by_tokens),
        models=sorted(models.values(), key=by_tokens),
        total=total,
        rows=rows,
    )


# -- charts --------------------------------------------------------------------------------


@dataclass
class Bar:
    # Strings, formatted here: a locale's decimal comma must never reach an SVG attribute.
    x: str
    y: str
    width: str
    height: str
    title: str
    label: str = ""


def bar_chart(tallies: list[Tally], value: str, unit: str, *, width=720, height=140) -> dict:
    """Geometry of a bar per day (SVG user units, drawn by the template); each bar's <title>
    says its day and number, so the numbers are one hover away."""
    values = [getattr(t, value) for t in tallies]
    top = max(values, default=0) or 1
    slot = width / max(len(values), 1)
    gap = min(2.0, slot * 0.2)
    bars = []
    for i, (tally, number) in enumerate(zip(tallies, values, strict=True)):
        h = number / top * (height - 4) if number else 0
        day = tally.key
        bars.append(
            Bar(
                x=f"{i * slot + gap / 2:.2f}",
                y=f"{height - h:.2f}",
                width=f"{slot - gap:.2f}",
                height=f"{h:.2f}",
                title=f"{day:%a %-d %b}: {number:,} {unit}",
                label=f"{day:%-d %b}" if i in (0, len(values) - 1) or len(values) <= 10 else "",
            )
        )
    return {"bars": bars, "width": width, "height": height, "max": max(values, default=0),
            "unit": unit, "value": value}  # fmt: skip


# -- CSV -----------------------------------------------------------------------------------


def _cell(value) -> str:
    """A spreadsheet must not read a name as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def csv_text(result: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day", "person", "model", "turns", "input_tokens", "output_tokens",
                     "thinking_tokens", "total_tokens", "estimated_cost"])  # fmt: skip
    for row in result.rows:
        writer.writerow([
            row["day"].isoformat(), _cell(row["username"]), _cell(row["model"]), row["turns"],
            row["input"], row["output"], row["thinking"], row["total"],
            "" if row["cost"] is None else f"{row['cost']:.4f}",
        ])  # fmt: skip
    return out.getvalue()
