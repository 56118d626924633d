"""Validation gate micro-benchmark: µs of CPU per record, medians of several rounds, no broker.

Compares, on 1 KB `UserEventCreate` payloads from tests/factories.py: pydantic
`model_validate_json` with the model dropped at once, pydantic plus its canonical JSON, the
derived msgspec gate (`ownlens_kafka.gate`), and msgspec decode + encode alone (the floor of any
msgspec gate). Then the share of records the gate sends to pydantic, per model, for records
made by our producers (`to_json` of validated models).

    .venv/bin/python bench/gate.py [--records 5000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec
from pydantic_core import to_json

from ownlens_kafka.gate import gate_for
from ownlens_kafka.models import EventModel, UserEventCreate
from tests.factories import MODELS, valid_payload


def cpu_us(run: Callable[[bytes], Any], values: list[bytes], rounds: int) -> list[float]:
    """CPU µs per record of `run` over `values`, one figure per round (after a warm-up)."""
    for value in values[:500]:
        run(value)
    figures = []
    for _ in range(rounds):
        start = time.process_time_ns()
        for value in values:
            run(value)
        figures.append((time.process_time_ns() - start) / len(values) / 1_000)
    return figures


def producer_records(model: type[EventModel], count: int) -> list[bytes]:
    """Records as our producers write them: validated models serialized by pydantic."""
    serialize = model.__pydantic_serializer__.to_json
    return [serialize(model.model_validate(valid_payload(model))) for _ in range(count)]


def floor_codec(model: type[EventModel]) -> Callable[[bytes], bytes]:
    """msgspec decode + encode of a struct with the same field names, no constraints: the
    floor any msgspec-based gate pays."""
    struct = msgspec.defstruct(
        f"{model.__name__}Floor", [(name, Any, None) for name in model.model_fields]
    )
    decode = msgspec.json.Decoder(struct).decode
    encode = msgspec.json.Encoder().encode
    return lambda value: encode(decode(value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    model = UserEventCreate
    raw = [to_json(valid_payload(model)) for _ in range(args.records)]
    size = statistics.median(len(v) for v in raw)
    serialize = model.__pydantic_serializer__.to_json
    validate = model.model_validate_json
    gate = gate_for(model)
    options: dict[str, Callable[[bytes], Any]] = {
        "pydantic model_validate_json (dropped)": validate,
        "pydantic + canonical to_json": lambda value: serialize(validate(value)),
        "msgspec gate (ownlens_kafka.gate)": gate,
        "msgspec decode+encode, no checks": floor_codec(model),
    }
    print(f"{model.__name__}: {args.records} payloads of {size:.0f} bytes, {args.rounds} rounds")
    for name, run in options.items():
        figures = cpu_us(run, raw, args.rounds)
        runs = ", ".join(f"{f:.2f}" for f in figures)
        print(f"  {name:<40} {statistics.median(figures):6.2f} µs/record  ({runs})")

    unique = [
        to_json(valid_payload(model, page_url=f"https://example.com/a/{n}?utm={n}"))
        for n in range(args.records)
    ]
    figures = cpu_us(gate, unique, args.rounds)
    name = "msgspec gate, a new URL every record"
    print(f"  {name:<40} {statistics.median(figures):6.2f} µs/record")

    print("records made by our producers (to_json of validated models), per model:")
    print(f"  {'model':<24} {'slow path':>9} {'gate µs':>8} {'pydantic µs':>12}")
    for each in MODELS:
        records = producer_records(each, 2_000)
        each_gate = gate_for(each)
        slow = sum(each_gate(value) is None for value in records)
        fast_us = statistics.median(cpu_us(each_gate, records, 3))
        slow_us = statistics.median(cpu_us(each.model_validate_json, records, 3))
        print(f"  {each.__name__:<24} {slow / len(records):9.2%} {fast_us:8.2f} {slow_us:12.2f}")


if __name__ == "__main__":
    main()
