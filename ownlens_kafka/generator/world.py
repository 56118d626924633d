"""The simulated publisher: companies, brands, readers, newsroom, staff and ML models."""

from __future__ import annotations

import ipaddress
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

ARTICLES_KEPT = 500  # per brand: readers mostly see the latest ones

# (company, slug, country, brands as (name, slug, focus category))
_COMPANIES = (
    (
        "Meridian Media Group",
        "meridian",
        "GB",
        (
            ("The Daily Meridian", "dailymeridian", "news"),
            ("Meridian Sport", "meridiansport", "sport"),
            ("Meridian Money", "meridianmoney", "business"),
        ),
    ),
    (
        "Nordlicht Verlag",
        "nordlicht",
        "DE",
        (
            ("Nordlicht Zeitung", "nordlicht-zeitung", "news"),
            ("Auto Nordlicht", "autonordlicht", "motoring"),
            ("Kiez Kultur", "kiezkultur", "culture"),
        ),
    ),
)
_CATEGORIES = (
    "news",
    "politics",
    "business",
    "sport",
    "culture",
    "technology",
    "science",
    "travel",
    "opinion",
    "motoring",
    "lifestyle",
)
_PLACES = {
    "GB": (("London", "Europe/London"), ("Manchester", "Europe/London")),
    "DE": (("Berlin", "Europe/Berlin"), ("Hamburg", "Europe/Berlin"), ("Munich", "Europe/Berlin")),
    "FR": (("Paris", "Europe/Paris"),),
    "IE": (("Dublin", "Europe/Dublin"),),
    "NL": (("Amsterdam", "Europe/Amsterdam"),),
    "AT": (("Vienna", "Europe/Vienna"),),
    "CH": (("Zurich", "Europe/Zurich"),),
    "US": (("New York", "America/New_York"), ("San Francisco", "America/Los_Angeles")),
}
_WIN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
_CHROME = "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
_SAFARI = "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4"
# (device type, operating system, browser, user agent)
_DEVICES = (
    ("desktop", "Windows", "Chrome", f"{_WIN} {_CHROME} Safari/537.36"),
    ("desktop", "Windows", "Edge", f"{_WIN} {_CHROME} Safari/537.36 Edg/124.0.0.0"),
    ("desktop", "macOS", "Safari", f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {_SAFARI}"),
    ("desktop", "Linux", "Firefox", "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Firefox/125.0"),
    (
        "mobile",
        "iOS",
        "Safari",
        f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) {_SAFARI}",
    ),
    ("mobile", "Android", "Chrome", f"Mozilla/5.0 (Linux; Android 14; Pixel 8) {_CHROME} Mobile"),
    ("tablet", "iOS", "Safari", f"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) {_SAFARI}"),
)
_DEVICE_WEIGHTS = (22, 6, 12, 3, 30, 22, 5)
_SEGMENTS = ("new_visitor", "casual", "loyal_reader", "news_junkie")
_TIERS = (("free", 50), ("registered", 25), ("digital", 15), ("premium", 10))
_FIRST = ("Alex", "Sam", "Jo", "Maria", "Jonas", "Lena", "Priya", "Tom", "Aisha", "Felix", "Nora")
_LAST = ("Hughes", "Becker", "Okafor", "Schmidt", "Patel", "Walsh", "Novak", "Fischer", "Moreau")
_DEPARTMENTS = ("Editorial", "Engineering", "Data", "Marketing", "Sales", "Legal", "HR", "Finance")
_LEVELS = (("staff", 50), ("senior", 25), ("manager", 15), ("director", 7), ("executive", 3))
# (name, prediction_type, entity_type, classes: positive then negative; none for a regression)
_MODELS = (
    ("churn-gbm", "churn", "user", ("churn", "retain")),
    ("subscription-propensity", "conversion", "user", ("subscribe", "no_subscribe")),
    ("article-popularity", "page_views_24h", "article", None),
)


def new_id(rng: random.Random) -> UUID:
    """A version-4 UUID drawn from `rng`, so a seeded run repeats its ids."""
    return UUID(int=rng.getrandbits(128), version=4)


def public_ip(rng: random.Random, ipv6_share: float = 0.3) -> str:
    """A random globally routable IPv4 or IPv6 address."""
    while True:
        if rng.random() < ipv6_share:  # 2000::/3 is the global unicast space
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv6Address(
                (1 << 125) | rng.getrandbits(125)
            )
        else:
            address = ipaddress.IPv4Address(rng.getrandbits(32))
        if address.is_global and not address.is_multicast:
            return str(address)


@dataclass(frozen=True, slots=True)
class Place:
    city: str
    city_id: UUID
    country_code: str
    timezone: str


@dataclass(frozen=True, slots=True)
class Device:
    device_type: str
    device_type_id: UUID
    os: str
    os_id: UUID
    browser: str
    browser_id: UUID
    user_agent: str


@dataclass(frozen=True, slots=True)
class Category:
    category_id: UUID
    slug: str


@dataclass(frozen=True, slots=True)
class Author:
    author_id: UUID
    name: str


@dataclass(frozen=True, slots=True)
class User:
    """A reader of one brand; `account_id` is set once they registered."""

    user_id: UUID
    brand_id: UUID
    account_id: UUID | None
    place: Place
    device: Device
    ip_address: str
    segment: str
    tier: str


@dataclass(frozen=True, slots=True)
class Department:
    department_id: UUID
    name: str


@dataclass(frozen=True, slots=True)
class Employee:
    employee_id: UUID
    brand_id: UUID
    department: Department
    level: str
    ip_address: str
    user_agent: str


@dataclass(frozen=True, slots=True)
class MlModel:
    model_id: UUID
    name: str
    prediction_type: str
    entity_type: str
    classes: tuple[str, str] | None


@dataclass(frozen=True, slots=True)
class Article:
    """A published article; `payload` is what was emitted, reused for updates."""

    article_id: UUID
    key: str  # the id as text, as user events carry it
    title: str
    path: str
    article_type: str
    category: Category
    author: Author
    published_at: datetime
    payload: dict[str, Any]


@dataclass(eq=False, slots=True)
class Brand:
    brand_id: UUID
    company_id: UUID
    name: str
    slug: str
    country_code: str
    categories: tuple[Category, ...]
    authors: tuple[Author, ...]
    users: list[User] = field(default_factory=list)
    articles: deque[Article] = field(default_factory=lambda: deque(maxlen=ARTICLES_KEPT))

    @property
    def base_url(self) -> str:
        return f"https://www.{self.slug}.example"


@dataclass(eq=False, slots=True)
class Company:
    company_id: UUID
    name: str
    slug: str
    country_code: str
    brands: list[Brand]
    departments: tuple[Department, ...]
    employees: list[Employee]
    models: tuple[MlModel, ...]
    api_key_id: UUID

    def department(self, name: str) -> Department:
        return next(d for d in self.departments if d.name == name)


@dataclass(eq=False, slots=True)
class World:
    """Everything the events refer to; only the brands' article catalogues change."""

    companies: tuple[Company, ...]
    places: tuple[Place, ...]
    devices: tuple[Device, ...]
    brands: tuple[Brand, ...] = field(init=False)
    _by_id: dict[UUID, Company] = field(init=False)

    def __post_init__(self) -> None:
        self.brands = tuple(b for c in self.companies for b in c.brands)
        self._by_id = {c.company_id: c for c in self.companies}

    def company_of(self, brand: Brand) -> Company:
        return self._by_id[brand.company_id]

    @classmethod
    def build(
        cls, rng: random.Random, users_per_brand: int = 150, employees_per_company: int = 30
    ) -> World:
        """A small publisher drawn from `rng` (the same seed gives the same world)."""
        places = _places(rng)
        devices = _devices(rng)
        companies = tuple(
            _company(rng, spec, places, devices, users_per_brand, employees_per_company)
            for spec in _COMPANIES
        )
        return cls(companies, places, devices)


def _places(rng: random.Random) -> tuple[Place, ...]:
    return tuple(
        Place(city, new_id(rng), country, zone)
        for country, cities in _PLACES.items()
        for city, zone in cities
    )


def _devices(rng: random.Random) -> tuple[Device, ...]:
    ids: dict[str, UUID] = {}
    for kind, name, app, _ in _DEVICES:
        for label in (f"type:{kind}", f"os:{name}", f"browser:{app}"):
            ids.setdefault(label, new_id(rng))
    return tuple(
        Device(
            kind, ids[f"type:{kind}"], name, ids[f"os:{name}"], app, ids[f"browser:{app}"], agent
        )
        for kind, name, app, agent in _DEVICES
    )


def _name(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _company(
    rng: random.Random,
    spec: tuple[str, str, str, tuple[tuple[str, str, str], ...]],
    places: tuple[Place, ...],
    devices: tuple[Device, ...],
    users_per_brand: int,
    employees: int,
) -> Company:
    name, slug, country, brand_specs = spec
    company_id = new_id(rng)
    brands = [_brand(rng, company_id, country, brand) for brand in brand_specs]
    for brand in brands:
        brand.users.extend(_user(rng, brand, places, devices) for _ in range(users_per_brand))
    departments = tuple(Department(new_id(rng), dept) for dept in _DEPARTMENTS)
    office = [public_ip(rng) for _ in range(3)]
    staff = [_employee(rng, brands, departments, office, devices) for _ in range(employees)]
    models = tuple(MlModel(new_id(rng), *model) for model in _MODELS)
    return Company(company_id, name, slug, country, brands, departments, staff, models, new_id(rng))


def _brand(rng: random.Random, company_id: UUID, country: str, spec: tuple[str, str, str]) -> Brand:
    name, slug, focus = spec
    others = rng.sample([c for c in _CATEGORIES if c != focus], 5)
    categories = tuple(Category(new_id(rng), category) for category in (focus, *others))
    authors = tuple(Author(new_id(rng), _name(rng)) for _ in range(rng.randint(5, 9)))
    return Brand(new_id(rng), company_id, name, slug, country, categories, authors)


def _user(
    rng: random.Random, brand: Brand, places: tuple[Place, ...], devices: tuple[Device, ...]
) -> User:
    local = [p for p in places if p.country_code == brand.country_code]
    place = rng.choice(local if rng.random() < 0.75 else places)
    tier = rng.choices([t for t, _ in _TIERS], [w for _, w in _TIERS])[0]
    return User(
        user_id=new_id(rng),
        brand_id=brand.brand_id,
        account_id=new_id(rng) if tier != "free" else None,
        place=place,
        device=rng.choices(devices, _DEVICE_WEIGHTS)[0],
        ip_address=public_ip(rng),
        segment=rng.choice(_SEGMENTS),
        tier=tier,
    )


def _employee(
    rng: random.Random,
    brands: list[Brand],
    departments: tuple[Department, ...],
    office: list[str],
    devices: tuple[Device, ...],
) -> Employee:
    return Employee(
        employee_id=new_id(rng),
        brand_id=rng.choice(brands).brand_id,
        department=rng.choice(departments),
        level=rng.choices([lv for lv, _ in _LEVELS], [w for _, w in _LEVELS])[0],
        ip_address=rng.choice(office) if rng.random() < 0.7 else public_ip(rng),
        user_agent=rng.choice(devices[:4]).user_agent,
    )
