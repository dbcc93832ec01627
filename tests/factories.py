"""factory_boy factories for the whole product. A plain ``SessionFactory()`` is a published talk
in Luoyang next month with open registration."""

import datetime as dt

import factory
from django.utils import timezone

from accounts.models import Membership, Organization, User
from events.models import City, Series, Session, Venue
from registrations.models import PriorityCode, Registration
from streams.models import Stream


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct-horse-battery")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Night School Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Membership.Role.ORGANIZER


def organizer_of(organization: Organization, **kwargs) -> User:
    user = UserFactory(**kwargs)
    MembershipFactory(user=user, organization=organization, role=Membership.Role.ORGANIZER)
    return user


def host_of(organization: Organization, **kwargs) -> User:
    user = UserFactory(**kwargs)
    MembershipFactory(user=user, organization=organization, role=Membership.Role.HOST)
    return user


class CityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = City

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Luoyang {n}")
    local_name = "洛阳"
    latitude = 34.6197
    longitude = 112.4540
    timezone = "Asia/Shanghai"


class VenueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Venue

    city = factory.SubFactory(CityFactory)
    organization = factory.LazyAttribute(lambda v: v.city.organization)
    name = factory.Sequence(lambda n: f"Academy Hall {n}")
    address = "1 Kaiyuan Avenue, Luolong District, Luoyang"
    latitude = factory.LazyAttribute(lambda v: v.city.latitude)
    longitude = factory.LazyAttribute(lambda v: v.city.longitude)
    timezone = factory.LazyAttribute(lambda v: v.city.timezone)
    max_capacity = 200


class SeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Series

    organization = factory.SubFactory(OrganizationFactory)
    title = factory.Sequence(lambda n: f"Photography Night School {n}")
    slug = factory.Sequence(lambda n: f"night-school-{n}")
    description = "A month of talks and night shoots."
    partners = factory.LazyFunction(lambda: ["Camera Academy", "Luoyang Tourism Board"])


def _next_month_evening() -> dt.datetime:
    start = timezone.now().astimezone(dt.UTC) + dt.timedelta(days=30)
    # 20:00 in Beijing is 12:00 UTC: after dusk all year round.
    return start.replace(hour=12, minute=0, second=0, microsecond=0)


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Session
        skip_postgeneration_save = True

    series = factory.SubFactory(SeriesFactory)
    venue = factory.SubFactory(
        VenueFactory,
        city__organization=factory.SelfAttribute("...series.organization"),
    )
    city = factory.LazyAttribute(lambda s: s.venue.city)
    kind = Session.Kind.TALK
    title = factory.Sequence(lambda n: f"Light after dark, talk {n}")
    description = "夜景摄影 — night photography."
    starts_at = factory.LazyFunction(_next_month_evening)
    ends_at = factory.LazyAttribute(lambda s: s.starts_at + dt.timedelta(hours=2))
    timezone = factory.LazyAttribute(lambda s: s.venue.timezone)
    capacity = 30
    status = Session.Status.PUBLISHED
    registration_opens_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))
    registration_closes_at = factory.LazyAttribute(lambda s: s.starts_at - dt.timedelta(hours=1))
    priority_opens_at = factory.LazyAttribute(lambda s: s.registration_opens_at - dt.timedelta(days=2))
    waitlist_enabled = True

    @factory.post_generation
    def hosts(self, create, extracted, **kwargs):
        if create and extracted:
            self.hosts.set(extracted)


class StreamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stream
        skip_postgeneration_save = True

    session = factory.SubFactory(SessionFactory, kind=Session.Kind.LIVESTREAM)
    organization = factory.LazyAttribute(lambda s: s.session.series.organization)
    title = factory.LazyAttribute(lambda s: f"Live: {s.session.title}")
    playback_url = "https://live.example.com/play/grotto.m3u8"

    @factory.post_generation
    def hosts(self, create, extracted, **kwargs):
        if create and extracted:
            self.hosts.set(extracted)


class PriorityCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PriorityCode

    series = factory.SubFactory(SeriesFactory)
    organization = factory.LazyAttribute(lambda c: c.series.organization)
    code = factory.Sequence(lambda n: f"FAN-{n:06d}")
    max_uses = 1


class RegistrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Registration

    session = factory.SubFactory(SessionFactory)
    fan = factory.SubFactory(UserFactory)
    status = Registration.Status.CONFIRMED
