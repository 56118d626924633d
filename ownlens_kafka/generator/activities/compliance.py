"""Compliance requests (GDPR, consent, retention) and the events of their lifecycle."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from ownlens_kafka.generator.sim import Activity, Emitted, Payload, Sim, Weighted, between, pick
from ownlens_kafka.generator.world import Company, Employee, User

_COMPLIANCE_TYPES = Weighted(
    [
        ("GDPR_ACCESS_REQUEST", 30),
        ("GDPR_DELETION_REQUEST", 20),
        ("CONSENT_UPDATE", 30),
        ("DATA_EXPORT", 12),
        ("DATA_RETENTION", 8),
    ]
)
_LIFECYCLE = (("REQUEST", "PENDING"), ("PROCESSED", "PROCESSING"), ("COMPLETED", "COMPLETED"))
_WITH_EXPORT = frozenset({"GDPR_ACCESS_REQUEST", "DATA_EXPORT"})


@dataclass(eq=False, slots=True)
class Request:
    """A compliance request moving REQUEST -> PROCESSED -> COMPLETED, one event per step."""

    request_id: UUID
    compliance_type: str
    company: Company
    brand_id: UUID
    user: User | None
    requested_by: UUID
    handler: Employee
    requested_at: datetime
    processed_at: datetime | None = None
    step: int = 0


class Compliance(Activity):
    """GDPR, consent and retention requests; each later step is a new event of the same request."""

    streams = frozenset({"compliance_events"})
    weight = 3
    max_open = 20

    def __init__(self, sim: Sim) -> None:
        super().__init__(sim)
        self.open: deque[Request] = deque()

    def step(self) -> Emitted:
        if self.open and (len(self.open) >= self.max_open or self.sim.chance(0.7)):
            request = self.open.popleft()
        else:
            request = self._new()
        payload = self._event(request)
        request.step += 1
        if request.step < len(_LIFECYCLE):
            self.open.append(request)
        return [("compliance_events", payload)]

    def _new(self) -> Request:
        sim, rng = self.sim, self.sim.rng
        company = pick(rng, sim.world.companies)
        kind = _COMPLIANCE_TYPES.pick(rng)
        legal = [e for e in company.employees if e.department.name in ("Legal", "Data")]
        handler = pick(rng, legal or company.employees)
        if kind == "DATA_RETENTION":
            brand, user, requester = company.brands[0], None, handler.employee_id
        else:
            brand = pick(rng, company.brands)
            user = pick(rng, brand.users)
            requester = user.user_id if sim.chance(0.8) else handler.employee_id
        return Request(sim.id(), kind, company, brand.brand_id, user, requester, handler, sim.now)

    def _event(self, request: Request) -> Payload:
        sim = self.sim
        event_type, status = _LIFECYCLE[request.step]
        if event_type == "PROCESSED":
            request.processed_at = sim.now
        done = event_type == "COMPLETED"
        export = done and request.compliance_type in _WITH_EXPORT
        user_id = request.user.user_id if request.user else None
        return {
            "company_id": request.company.company_id,
            "brand_id": request.brand_id,
            "event_id": sim.id(),
            "compliance_type": request.compliance_type,
            "event_type": event_type,
            "description": request.compliance_type.replace("_", " ").lower(),
            "user_id": user_id,
            "requested_by": request.requested_by,
            "processed_by": request.handler.employee_id if request.step else None,
            "resource_type": "raw.user_events" if user_id is None else "user_profile",
            "resource_ids": [user_id] if user_id else None,
            "data_scope": {"tables": ["raw.user_events", "raw.sessions"], "days": 395},
            "status": status,
            "status_message": f"{event_type.lower()} at {sim.now:%Y-%m-%d %H:%M} UTC",
            "requested_at": request.requested_at,
            "processed_at": request.processed_at,
            "completed_at": sim.now if done else None,
            "event_timestamp": sim.now,
            "records_affected": between(sim.rng, 0, 5_000) if done else None,
            "data_export_url": (
                f"https://privacy.{request.company.slug}.example/exports/{request.request_id}.zip"
                if export
                else None
            ),
            "metadata": {"request_id": str(request.request_id)},
        }
