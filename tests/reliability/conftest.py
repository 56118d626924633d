"""The reliability suite: the `reliability` marker, the figures every test records, and the
summary written to `.ownlens/reliability/summary.json` and printed at the end of the session.

    .venv/bin/pytest -m reliability -s tests/reliability
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.reliability.figures import Figures

_SESSION: list[Figures] = []  # the session's figures, for the terminal summary


@pytest.fixture(scope="session")
def figures() -> Iterator[Figures]:
    """Where each test records its figures; written as one JSON summary after the session."""
    found = Figures()
    _SESSION.append(found)
    yield found
    found.write()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _SESSION or not _SESSION[0].sections:
        return
    summary = _SESSION[0].write()
    terminalreporter.section("reliability figures")
    terminalreporter.write_line(f"written to {_SESSION[0].path}")
    terminalreporter.write_line(json.dumps(summary["totals"]))
    for name, section in summary["sections"].items():
        terminalreporter.write_line(f"{name}: {json.dumps(section, default=str)}")
