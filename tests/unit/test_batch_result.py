"""BatchResult: how delivery reports become counts, failures by index and offset ranges."""

from __future__ import annotations

from typing import Any

from ownlens_kafka.producer import BatchFailure, BatchResult


class Report:
    """What a delivery report's message answers (only the parts BatchResult reads)."""

    def __init__(self, partition: int, offset: int | None, value: bytes = b"v") -> None:
        self._partition, self._offset, self._value = partition, offset, value

    def value(self) -> bytes:
        return self._value

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int | None:
        return self._offset


class Failed:
    def str(self) -> str:
        return "Local: Message timed out"


def deliver(result: BatchResult, index: int, error: Any, message: Report) -> None:
    result.on_delivery(error, message)  # type: ignore[arg-type]


def test_offsets_span_each_partition_whatever_the_report_order() -> None:
    result = BatchResult(sent=4)
    for index, (partition, offset) in enumerate([(0, 7), (1, 3), (0, 5), (0, 9)]):
        deliver(result, index, None, Report(partition, offset))
    assert (result.delivered, result.offsets) == (4, {0: (5, 9), 1: (3, 3)})


def test_a_retry_the_broker_already_had_counts_as_delivered_without_an_offset() -> None:
    # An idempotent producer's retried batch that the broker had stored is acknowledged as a
    # duplicate: delivered, with no offset (seen when connections drop mid-batch).
    result = BatchResult(sent=2)
    deliver(result, 0, None, Report(0, 4))
    deliver(result, 1, None, Report(0, None))
    assert (result.delivered, result.failures, result.offsets) == (2, [], {0: (4, 4)})


def test_an_undelivered_message_is_a_failure_at_its_index() -> None:
    result = BatchResult(sent=4)
    deliver(result, 0, None, Report(0, 1, b"a"))
    deliver(result, 3, Failed(), Report(0, None, b"d"))
    deliver(result, 1, Failed(), Report(0, None, b"a"))  # equal bytes: each index named once
    result.settle([(0, b"a"), (1, b"a"), (2, b"c"), (3, b"d")])
    assert result.failures == [
        BatchFailure(0, "Local: Message timed out"),
        BatchFailure(3, "Local: Message timed out"),
    ]
    assert (result.delivered, result.ok) == (1, False)
