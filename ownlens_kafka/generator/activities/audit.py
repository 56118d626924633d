"""Audit logs: staff and service API keys acting on the platform."""

from __future__ import annotations

from uuid import UUID

from ownlens_kafka.generator.activities.newsroom import Newsroom
from ownlens_kafka.generator.sim import Activity, Emitted, Payload, Sim, Weighted, between, pick
from ownlens_kafka.generator.world import Company

_AUDIT_ACTIONS = Weighted(
    [
        ("READ", 40),
        ("UPDATE", 15),
        ("WRITE", 12),
        ("EXECUTE", 8),
        ("LOGIN", 10),
        ("LOGOUT", 7),
        ("EXPORT", 5),
        ("DELETE", 3),
    ]
)
# action -> (HTTP method, endpoint suffix, status code on success)
_ROUTES = {
    "READ": ("GET", "/{id}", 200),
    "UPDATE": ("PATCH", "/{id}", 200),
    "WRITE": ("POST", "", 201),
    "EXECUTE": ("POST", "/{id}/run", 202),
    "EXPORT": ("POST", "/{id}/export", 200),
    "DELETE": ("DELETE", "/{id}", 204),
}
_AUDIT_ERRORS = (
    (400, "VALIDATION_ERROR", "request body failed validation"),
    (403, "FORBIDDEN", "role does not allow this action"),
    (404, "NOT_FOUND", "resource does not exist"),
    (409, "CONFLICT", "resource was modified concurrently"),
    (500, "INTERNAL_ERROR", "unexpected server error"),
)
_SERVICE_AGENT = "ownlens-etl/1.4 (python-httpx)"


class Audit(Activity):
    """Staff and service API keys acting on articles, readers, reports and models."""

    streams = frozenset({"audit_logs"})
    weight = 8

    def __init__(self, sim: Sim, newsroom: Newsroom) -> None:
        super().__init__(sim)
        self.newsroom = newsroom

    def step(self) -> Emitted:
        sim, rng = self.sim, self.sim.rng
        company = pick(rng, sim.world.companies)
        staff = pick(rng, company.employees) if sim.chance(0.85) else None
        action = _AUDIT_ACTIONS.pick(rng)
        emitted, resource = self._resource(company, action)
        resource_type, resource_id, identifier = resource
        method, endpoint, code = self._route(action, resource_type, resource_id)
        success = sim.chance(0.95)
        error = None if success else pick(rng, _AUDIT_ERRORS)
        payload: Payload = {
            "company_id": company.company_id,
            "brand_id": staff.brand_id if staff else company.brands[0].brand_id,
            "log_id": sim.id(),
            "user_id": staff.employee_id if staff else None,
            "api_key_id": None if staff else company.api_key_id,
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "resource_identifier": identifier,
            "ip_address": staff.ip_address if staff else "2a05:d014::5e1",
            "user_agent": staff.user_agent if staff else _SERVICE_AGENT,
            "endpoint": endpoint,
            "method": method,
            "event_timestamp": sim.now,
            "success": success,
            "status_code": code if error is None else error[0],
            "error_code": error[1] if error else None,
            "error_message": error[2] if error else None,
            "request_data": {"fields": ["title", "summary"]} if action == "UPDATE" else None,
            "request_size_bytes": between(rng, 0, 4_096),
            "response_size_bytes": between(rng, 64, 250_000) if success else between(rng, 40, 400),
            "response_time_ms": int(rng.lognormvariate(3.5, 0.7)),
        }
        emitted.append(("audit_logs", payload))
        return emitted

    def _resource(
        self, company: Company, action: str
    ) -> tuple[Emitted, tuple[str, UUID | None, str | None]]:
        rng = self.sim.rng
        if action in ("LOGIN", "LOGOUT"):
            return [], ("auth_session", None, None)
        kind = pick(rng, ("article", "article", "user", "report", "model"))
        if kind == "article":
            article, emitted = self.newsroom.pick(pick(rng, company.brands))
            return emitted, ("article", article.article_id, article.payload["external_article_id"])
        if kind == "user":
            user = pick(rng, pick(rng, company.brands).users)
            return [], ("user", user.user_id, None)
        if kind == "model":
            model = pick(rng, company.models)
            return [], ("model", model.model_id, model.name)
        return [], ("report", self.sim.id(), pick(rng, ("weekly-engagement", "ad-revenue")))

    def _route(
        self, action: str, resource_type: str, resource_id: UUID | None
    ) -> tuple[str, str, int]:
        if action in ("LOGIN", "LOGOUT"):
            return "POST", f"/api/v1/auth/{action.lower()}", 200 if action == "LOGIN" else 204
        method, suffix, code = _ROUTES[action]
        return method, f"/api/v1/{resource_type}s" + suffix.format(id=resource_id), code
