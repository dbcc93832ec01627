"""The per-request lookup of the signed-in person (accounts.backends): one statement, the same user
Django's own backend would give, on SQLite and PostgreSQL alike."""

import datetime as dt

import pytest

from accounts.backends import AccountBackend, user_with_memberships
from accounts.models import Membership
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_user_read_per_request_has_every_column_as_the_orm_gives_it():
    fan = UserFactory(language="zh-hans")
    fan.email_verified_at = dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC)
    fan.save()
    read = AccountBackend().get_user(fan.pk)
    for field in type(fan)._meta.concrete_fields:
        assert getattr(read, field.attname) == getattr(fan, field.attname), field.name
    assert isinstance(read.date_joined, dt.datetime) and read.date_joined.tzinfo is not None


def test_memberships_come_with_the_user_in_one_statement(django_assert_num_queries):
    host = UserFactory()
    membership = MembershipFactory(user=host, role=Membership.Role.HOST)
    with django_assert_num_queries(1):
        read = user_with_memberships(host.pk)
    assert read._aperture_memberships == [(membership.organization_id, "host")]


def test_an_inactive_or_unknown_user_is_nobody():
    fan = UserFactory(is_active=False)
    assert AccountBackend().get_user(fan.pk) is None
    assert AccountBackend().get_user(fan.pk + 1000) is None
    assert AccountBackend().get_user("not a number") is None
