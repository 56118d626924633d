"""The suite's figures: each test records its section, the session writes one JSON summary."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.helpers import ROOT

SUMMARY = ROOT / ".ownlens" / "reliability" / "summary.json"
# The totals the README's reliability table shows, summed over the sections that have them.
TOTALS = ("records", "hostile_records", "faults_injected", "lost", "doubled", "leaks")


class Figures:
    """Per-test sections of figures; a section is replaced when its test runs again."""

    def __init__(self, path: Path = SUMMARY) -> None:
        self.path = path
        self.sections: dict[str, dict[str, Any]] = {}

    def record(self, section: str, **figures: Any) -> dict[str, Any]:
        """Add figures to `section` (recorded before the test asserts, so failures count)."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.sections.setdefault(section, {}).update(figures, recorded_at=stamp)
        print(f"\n[reliability] {section}: {json.dumps(figures, default=str)}")
        return self.sections[section]

    def write(self) -> dict[str, Any]:
        """Merge this session's sections into the summary file and recompute the totals."""
        previous: dict[str, Any] = {}
        if self.path.exists():
            try:
                previous = json.loads(self.path.read_text())
            except ValueError:  # a summary cut short by a killed session: start afresh
                previous = {}
        sections = {**previous.get("sections", {}), **self.sections}
        totals = {
            name: sum(int(s.get(name, 0)) for s in sections.values() if s.get(name) is not None)
            for name in TOTALS
        }
        summary = {
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "totals": totals,
            "sections": dict(sorted(sections.items())),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
        return summary
