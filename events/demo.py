"""The planning part of the demo program: a month-long photography night school across 15 cities.

The month is the calendar month after today (in Beijing time), so the demo always has upcoming
sessions with registration open. The whole demo (with the priority codes and the livestream that
higher rooms add) is loaded by ``frontend.demo.load_demo`` (``manage.py load_demo``), all or nothing
and idempotent: a second run finds the series by its slug and changes nothing.
"""

import calendar
import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.utils import timezone

from accounts.models import Membership, Organization, User
from events.conflicts import civil_twilight
from events.demo_data import CITIES, HOSTS, PARTNERS, TALK_TOPICS
from events.models import City, Series, Session, Venue

DEMO_SERIES_SLUG = "starlight-night-school-demo"
DEMO_ACCOUNTS = {
    # username: (password, role, is_staff, is_superuser)
    "admin": ("aperture-admin", None, True, True),
    "organizer": ("aperture-organizer", Membership.Role.ORGANIZER, True, False),
    "host": ("aperture-host", Membership.Role.HOST, False, False),
    "fan": ("aperture-fan", None, False, False),
}
TALK_COUNT = 100
NIGHT_SHOOT_COUNT = 27
GROTTO_CITY = "Luoyang"
GROTTO_DAY = 12  # the 13th of the month: no Luoyang night shoot that evening
BEIJING = zoneinfo.ZoneInfo("Asia/Shanghai")


@dataclass
class DemoPlanned:
    """What a first load planned that the higher rooms' parts of the demo build on."""

    month_start: dt.date
    grotto_session: Session  # the livestreamed night tour
    grotto_hosts: list[User]
    drawn_session: Session | None  # the night shoot whose seats go by a draw, if any


@dataclass
class DemoProgram:
    series: Series
    organization: Organization
    users: dict[str, User]  # the demo accounts by username
    planned: DemoPlanned | None  # None: the series was there already, and nothing was planned

    @property
    def created(self) -> bool:
        return self.planned is not None


def _demo_month_start(today: dt.date) -> dt.date:
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return dt.date(year, month, 1)


def _at(day: dt.date, hour: int, minute: int, tz_name: str) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zoneinfo.ZoneInfo(tz_name))


def _accounts(organization: Organization) -> dict[str, User]:
    users = {}
    for username, (password, role, is_staff, is_superuser) in DEMO_ACCOUNTS.items():
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"email": f"{username}@aperture.example", "is_staff": is_staff, "is_superuser": is_superuser},
        )
        if created:
            user.set_password(password)
            user.save(update_fields=["password"])
        if role:
            Membership.objects.get_or_create(user=user, organization=organization, role=role)
        users[username] = user
    return users


def _resident_hosts(organization: Organization, demo_host: User) -> list[tuple[User, User]]:
    pairs = []
    for index in range(len(CITIES)):
        people = []
        for name, _local_name in HOSTS[2 * index : 2 * index + 2]:
            username = "host_" + name.lower().replace(" ", "")
            first, last = name.split(" ", 1)[1], name.split(" ", 1)[0]
            user, _ = User.objects.get_or_create(
                username=username,
                defaults={"email": f"{username}@aperture.example", "first_name": first, "last_name": last},
            )
            Membership.objects.get_or_create(user=user, organization=organization, role=Membership.Role.HOST)
            people.append(user)
        pairs.append((people[0], people[1]))
    grotto = next(i for i, c in enumerate(CITIES) if c[0] == GROTTO_CITY)
    # The demo `host` account leads the night shoots at the grotto city, and its livestream.
    pairs[grotto] = (pairs[grotto][0], demo_host)
    return pairs


def _places(organization: Organization) -> list[tuple[City, Venue, Venue]]:
    places = []
    for name, local_name, lat, lon, tz_name, academy, site in CITIES:
        city, _ = City.objects.get_or_create(
            organization=organization,
            name=name,
            defaults={"local_name": local_name, "latitude": lat, "longitude": lon, "timezone": tz_name},
        )
        venues = []
        for (venue_name, address, vlat, vlon, capacity), outdoor in ((academy, False), (site, True)):
            venue, _ = Venue.objects.get_or_create(
                city=city,
                name=venue_name,
                defaults={
                    "organization": organization,
                    "address": address,
                    "latitude": vlat,
                    "longitude": vlon,
                    "timezone": tz_name,
                    "max_capacity": capacity,
                    "outdoor": outdoor,
                },
            )
            venues.append(venue)
        places.append((city, venues[0], venues[1]))
    return places


def _windows(month_start: dt.date, starts_at: dt.datetime) -> dict:
    priority = dt.datetime.combine(month_start - dt.timedelta(days=10), dt.time(10, 0), tzinfo=BEIJING)
    general = dt.datetime.combine(month_start - dt.timedelta(days=7), dt.time(10, 0), tzinfo=BEIJING)
    return {
        "priority_opens_at": priority,
        "registration_opens_at": general,
        "registration_closes_at": starts_at - dt.timedelta(hours=2),
    }


def _talks(series, month_start, days, places, hosts) -> list[Session]:
    """Four evenings in five carry four talks; each city's academy hosts at most one a night."""
    sessions = []
    offsets = [0, 6, 12, 3]
    for k in range(TALK_COUNT):
        day_index, round_index = k % days, k // days
        city_index = (day_index + offsets[round_index]) % len(places)
        city, academy, _ = places[city_index]
        day = month_start + dt.timedelta(days=day_index)
        starts_at = _at(day, 19, 0, city.timezone)
        topic, local_topic = TALK_TOPICS[k % len(TALK_TOPICS)]
        session = Session(
            series=series,
            kind=Session.Kind.TALK,
            title=f"{local_topic}（{city.local_name}）",
            title_en=f"{topic} ({city.name})",
            description=f"名师讲座：{local_topic}。地点：{city.local_name}。",
            description_en=f"A talk on {topic.lower()} with a master photographer, {city.name} {city.local_name}.",
            city=city,
            venue=academy,
            starts_at=starts_at,
            ends_at=starts_at + dt.timedelta(minutes=90),
            timezone=city.timezone,
            capacity=min(academy.max_capacity, 120),
            status=Session.Status.DRAFT if k >= TALK_COUNT - 3 else Session.Status.PUBLISHED,
            waitlist_enabled=True,
            **_windows(month_start, starts_at),
        )
        sessions.append((session, [hosts[city_index][0]]))
    return sessions


def _after_dusk(starts_at: dt.datetime, site: Venue) -> dt.datetime:
    """20:00, or the first quarter hour after civil dusk at the site when dusk is later (summer, and
    the far west on Beijing time): a night shoot must start in the dark (events.conflicts)."""
    _, dusk = civil_twilight(site.latitude, site.longitude, site.timezone, starts_at.date())
    if dusk <= starts_at:
        return starts_at
    quarter = dt.timedelta(minutes=15)
    return starts_at + quarter * -(-(dusk - starts_at) // quarter)


def _night_shoots(series, month_start, days, places, hosts) -> list:
    sessions = []
    for k in range(NIGHT_SHOOT_COUNT):
        day_index = (k * days) // NIGHT_SHOOT_COUNT
        city_index = k % len(places)
        city, _, site = places[city_index]
        day = month_start + dt.timedelta(days=day_index)
        starts_at = _after_dusk(_at(day, 20, 0, city.timezone), site)
        session = Session(
            series=series,
            kind=Session.Kind.NIGHT_SHOOT,
            title=f"{city.local_name}夜拍 · {site.name}",
            title_en=f"Night shoot: {site.name}",
            description=f"在 {site.name} 现场夜拍。请带三脚架，注意保暖。",
            description_en=f"On-site night shooting at {site.name}. Bring a tripod and warm clothes.",
            city=city,
            venue=site,
            starts_at=starts_at,
            ends_at=starts_at + dt.timedelta(minutes=150),
            timezone=city.timezone,
            capacity=min(site.max_capacity, 20 + (k * 7) % 21),
            status=Session.Status.PUBLISHED,
            waitlist_enabled=True,
            **_windows(month_start, starts_at),
        )
        sessions.append((session, [hosts[city_index][1]]))
    return sessions


def _grotto_livestream(series, month_start, places, demo_host) -> tuple[Session, list[User]]:
    city, _, site = next(p for p in places if p[0].name == GROTTO_CITY)
    day = month_start + dt.timedelta(days=GROTTO_DAY)
    starts_at = _at(day, 20, 30, city.timezone)
    session = Session(
        series=series,
        kind=Session.Kind.LIVESTREAM,
        title="龙门石窟夜游直播",
        title_en="Live: night tour of the Longmen Grottoes",
        description="名师带队夜游世界文化遗产龙门石窟，现场直播。四十位影迷到场，其他人看直播。",
        description_en="An outdoor night tour of the UNESCO Longmen Grottoes, shot live by a master photographer. "
        "Forty fans join on site; everyone else watches the livestream.",
        city=city,
        venue=site,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=120),
        timezone=city.timezone,
        capacity=40,
        status=Session.Status.PUBLISHED,
        waitlist_enabled=True,
        **_windows(month_start, starts_at),
    )
    return session, [demo_host]


def demo_program_load(*, today: dt.date | None = None) -> DemoProgram:
    """The demo's organization, accounts, places, series and sessions (call inside the whole
    demo's transaction). When the series is there already, nothing but the accounts is touched
    and ``planned`` is None."""
    organization, _ = Organization.objects.get_or_create(
        slug="starlight", defaults={"name": "Starlight Photography Night School 星光摄影夜校"}
    )
    users = _accounts(organization)
    existing = Series.objects.filter(slug=DEMO_SERIES_SLUG).first()
    if existing is not None:
        return DemoProgram(series=existing, organization=organization, users=users, planned=None)

    today = today or timezone.now().astimezone(BEIJING).date()
    month_start = _demo_month_start(today)
    days = calendar.monthrange(month_start.year, month_start.month)[1]
    series = Series.objects.create(
        organization=organization,
        slug=DEMO_SERIES_SLUG,
        title=f"星光摄影夜校 · {month_start.year}年{month_start.month}月",
        title_en=f"Starlight Night School, {month_start:%B %Y}",
        description="一个月的名师讲座和全国各地的现场夜拍，与摄影学院和各地文旅部门合办。核心影迷可获得优先码。",
        description_en="A month of talks by master photographers and on-site night shoots across China, "
        "co-run with a camera academy and local tourism boards. Core fans get priority codes.",
        partners=PARTNERS,
    )
    places = _places(organization)
    hosts = _resident_hosts(organization, users["host"])
    planned = _talks(series, month_start, days, places, hosts) + _night_shoots(series, month_start, days, places, hosts)
    grotto_session, grotto_hosts = _grotto_livestream(series, month_start, places, users["host"])
    planned.append((grotto_session, grotto_hosts))
    for session, session_hosts in planned:
        session.save()
        session.hosts.set(session_hosts)
    drawn = _fair_access([session for session, _ in planned], users)
    planned_parts = DemoPlanned(
        month_start=month_start, grotto_session=grotto_session, grotto_hosts=grotto_hosts, drawn_session=drawn
    )
    return DemoProgram(series=series, organization=organization, users=users, planned=planned_parts)


def _fair_access(sessions: list[Session], users: dict[str, User]) -> Session | None:
    """One upcoming night shoot gives its seats by a draw (entries open now; registrations adds a
    code that weighs 3), another offers freed seats for two hours (parties of up to 3); the demo
    fan's address is verified so that the fan can enter the draw. Returns the drawn session."""
    now = timezone.now()
    shoots = [s for s in sessions if s.kind == Session.Kind.NIGHT_SHOOT and s.starts_at > now + dt.timedelta(days=3)]
    if len(shoots) < 2:
        return None
    drawn, offered = shoots[0], shoots[1]
    closes = min(drawn.starts_at - dt.timedelta(days=1), now + dt.timedelta(days=2))
    Session.objects.filter(id=drawn.id).update(
        allocation=Session.Allocation.DRAW,
        max_party_size=2,
        entry_opens_at=now - dt.timedelta(hours=1),
        entry_closes_at=closes,
        draw_at=closes,
        registration_opens_at=None,
        registration_closes_at=None,
        priority_opens_at=None,
    )
    Session.objects.filter(id=offered.id).update(offer_hold_minutes=120, offer_cutoff_minutes=180, max_party_size=3)
    fan = users.get("fan")
    if fan is not None and fan.email:
        type(fan).objects.filter(id=fan.id).update(email_verified_at=now)
    return drawn
