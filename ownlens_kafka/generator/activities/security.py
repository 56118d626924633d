"""Security events: logins, logouts and incidents."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from ownlens_kafka.generator.sim import Activity, Emitted, Payload, Sim, Weighted, between, pick
from ownlens_kafka.generator.world import World, public_ip

_SECURITY_EVENTS = Weighted(
    [
        ("LOGIN_SUCCESS", 45),
        ("LOGOUT", 20),
        ("LOGIN_FAILED", 15),
        ("PERMISSION_DENIED", 7),
        ("PASSWORD_CHANGE", 5),
        ("ROLE_CHANGE", 3),
        ("SUSPICIOUS_ACTIVITY", 5),
    ]
)
_SEVERITY = {
    "LOGIN_SUCCESS": "INFO",
    "LOGOUT": "INFO",
    "PASSWORD_CHANGE": "INFO",
    "LOGIN_FAILED": "WARNING",
    "PERMISSION_DENIED": "WARNING",
    "ROLE_CHANGE": "WARNING",
    "SUSPICIOUS_ACTIVITY": "CRITICAL",
}
_FAILURES = {
    "LOGIN_FAILED": ("invalid_password", "unknown_user", "mfa_failed", "account_locked"),
    "PERMISSION_DENIED": ("insufficient_role", "resource_restricted"),
    "SUSPICIOUS_ACTIVITY": ("credential_stuffing", "impossible_travel", "token_replay"),
}
_BOT_AGENTS = ("python-requests/2.31.0", "curl/8.5.0", "Go-http-client/1.1")


@dataclass(frozen=True, slots=True)
class Actor:
    """Someone who logs in: an employee, or a reader with an account."""

    user_id: UUID
    company_id: UUID
    brand_id: UUID
    ip_address: str
    user_agent: str
    employee: bool

    @property
    def role(self) -> str:
        return "staff member" if self.employee else "reader"


class Security(Activity):
    """Logins, logouts and incidents of staff and registered readers."""

    streams = frozenset({"security_events"})
    weight = 6

    def __init__(self, sim: Sim) -> None:
        super().__init__(sim)
        self.actors = _actors(sim.world)
        self.logged_in: dict[UUID, UUID] = {}

    def step(self) -> Emitted:
        sim, rng = self.sim, self.sim.rng
        actor = pick(rng, self.actors)
        kind = _SECURITY_EVENTS.pick(rng)
        if kind == "ROLE_CHANGE" and not actor.employee:
            kind = "PASSWORD_CHANGE"
        hostile = kind == "SUSPICIOUS_ACTIVITY" or (kind == "LOGIN_FAILED" and sim.chance(0.3))
        success = kind not in _FAILURES
        payload: Payload = {
            "company_id": actor.company_id,
            "brand_id": actor.brand_id,
            "event_id": sim.id(),
            "user_id": actor.user_id,
            "ip_address": public_ip(rng) if hostile else actor.ip_address,
            "user_agent": pick(rng, _BOT_AGENTS) if hostile else actor.user_agent,
            "event_type": kind,
            "event_severity": _SEVERITY[kind],
            "description": f"{kind.replace('_', ' ').lower()} by a {actor.role}",
            "success": success,
            "failure_reason": None if success else pick(rng, _FAILURES[kind]),
            "event_timestamp": sim.now,
            "session_id": self._session(actor, kind),
            "event_data": self._data(kind),
        }
        return [("security_events", payload)]

    def _session(self, actor: Actor, kind: str) -> UUID | None:
        """Login sessions: a logout closes the session its login opened."""
        if kind == "LOGIN_SUCCESS":
            session = self.logged_in[actor.user_id] = self.sim.id()
            return session
        if kind == "LOGOUT":
            return self.logged_in.pop(actor.user_id, None)
        if kind in ("LOGIN_FAILED", "SUSPICIOUS_ACTIVITY"):
            return None
        return self.logged_in.get(actor.user_id)

    def _data(self, kind: str) -> Payload:
        rng = self.sim.rng
        if kind == "ROLE_CHANGE":
            return {"from_role": "editor", "to_role": pick(rng, ("admin", "viewer", "analyst"))}
        if kind in ("LOGIN_FAILED", "SUSPICIOUS_ACTIVITY"):
            return {"failed_attempts": between(rng, 1, 40), "method": "password"}
        return {"method": pick(rng, ("password", "sso", "magic_link"))}


def _actors(world: World) -> list[Actor]:
    staff = [
        Actor(e.employee_id, c.company_id, e.brand_id, e.ip_address, e.user_agent, True)
        for c in world.companies
        for e in c.employees
    ]
    readers = [
        Actor(u.user_id, b.company_id, b.brand_id, u.ip_address, u.device.user_agent, False)
        for b in world.brands
        for u in b.users
        if u.account_id is not None
    ]
    return staff + readers
