"""Company life: internal content published on the intranet."""

from __future__ import annotations

from datetime import timedelta

from ownlens_kafka.generator.sim import Activity, Emitted, Payload, Weighted, between, pick, slug

_INTERNAL = Weighted(
    [
        ("announcement", 25),
        ("newsletter", 15),
        ("internal_article", 20),
        ("policy", 8),
        ("update", 22),
        ("event", 10),
    ]
)
_INTERNAL_TITLES = {
    "announcement": "Welcome to the new {dept} lead",
    "newsletter": "{company} weekly, issue {n}",
    "internal_article": "How the {dept} team shipped the new app",
    "policy": "Updated {dept} policy on remote work",
    "update": "{dept} quarterly update",
    "event": "Town hall with {dept}: questions welcome",
}
_EXPIRES_IN_DAYS = {"announcement": 30, "policy": 365, "event": 14}
_PRIORITIES = Weighted([("low", 20), ("normal", 60), ("high", 15), ("urgent", 5)])


class Intranet(Activity):
    """Employees publishing announcements, newsletters and policies to departments."""

    streams = frozenset({"internal_content"})
    weight = 2

    def step(self) -> Emitted:
        sim, rng = self.sim, self.sim.rng
        company = pick(rng, sim.world.companies)
        author = pick(rng, company.employees)
        kind = _INTERNAL.pick(rng)
        title = _INTERNAL_TITLES[kind].format(
            dept=author.department.name, company=company.name, n=between(rng, 1, 250)
        )
        company_wide = kind in ("newsletter", "policy") or rng.random() < 0.3
        priority = _PRIORITIES.pick(rng)
        expires = _EXPIRES_IN_DAYS.get(kind)
        targets = rng.sample(company.departments, between(rng, 1, 3))
        payload: Payload = {
            "company_id": company.company_id,
            "brand_id": author.brand_id,
            "content_id": sim.id(),
            "title": title,
            "content_type": kind,
            "summary": f"{title}. Posted by {author.department.name}.",
            "content_url": f"https://intranet.{company.slug}.example/{kind}/{slug(title)}",
            "author_employee_id": author.employee_id,
            "author_department_id": author.department.department_id,
            "department_id": author.department.department_id,
            "tags": [kind, slug(author.department.name)],
            "publish_time": sim.now,
            "expiry_date": (sim.now + timedelta(days=expires)).date() if expires else None,
            "status": "published",
            "target_departments": None if company_wide else [d.department_id for d in targets],
            "target_employee_levels": None if company_wide else ["staff", "senior", "manager"],
            "target_countries": [company.country_code],
            "is_company_wide": company_wide,
            "priority_level": priority,
            "is_important": priority in ("high", "urgent"),
        }
        return [("internal_content", payload)]
