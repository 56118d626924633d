"""KafkaLoader: a DataFrame validated row by row against the stream's model and published."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.producer import BaseKafkaProducer, BatchFailure, BatchResult
from ownlens_kafka.streams import StreamSpec
from ownlens_pipelines.schema import model_columns


@dataclass(slots=True)
class LoadResult(BatchResult):
    """A batch result for a DataFrame: failures carry the row's position and label."""

    stream: str = ""
    topic: str = ""
    rows: int = 0


def _clean(value: Any, kind: str, sql_type: str) -> Any:
    """A DataFrame cell as the model expects it: missing values to None, JSON text parsed."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if kind == "json" and isinstance(value, str):
        return json.loads(value)
    if sql_type == "DATE" and isinstance(value, datetime):
        return value.date()
    if hasattr(value, "tolist") and not isinstance(value, date | str):
        return value.tolist()  # numpy scalars and arrays
    return value


class KafkaLoader:
    """Publishes the rows of a DataFrame (model fields; `_*` columns are ignored)."""

    def __init__(self, spec: StreamSpec, config: KafkaConfig | None = None) -> None:
        self.spec = spec
        self.producer: BaseKafkaProducer[Any] = BaseKafkaProducer(config, stream=spec)

    def records(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """The rows as dicts of model fields; unknown columns are kept so validation names them."""
        columns = {c.name: c for c in model_columns(self.spec.model)}
        names = [name for name in frame.columns if not str(name).startswith("_")]
        rows = []
        for values in frame[names].itertuples(index=False, name=None):
            row = {}
            for name, value in zip(names, values, strict=True):
                column = columns.get(name)
                cleaned = _clean(value, column.kind, column.sql_type) if column else value
                if cleaned is not None:
                    row[name] = cleaned
            rows.append(row)
        return rows

    def load(self, frame: pd.DataFrame, timeout: float | None = None) -> LoadResult:
        """Validate every row, publish the valid ones, flush once; nothing is dropped silently."""
        batch = self.producer.publish_batch(self.records(frame), timeout=timeout)
        labels = list(frame.index)
        failures = [BatchFailure(f.index, f.reason, labels[f.index]) for f in batch.failures]
        return LoadResult(
            sent=batch.sent,
            delivered=batch.delivered,
            failures=failures,
            offsets=batch.offsets,
            stream=self.spec.name,
            topic=self.producer.topic,
            rows=len(frame),
        )
