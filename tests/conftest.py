import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import OrganizationFactory, UserFactory, host_of, organizer_of


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_throttling(monkeypatch, request):
    """Throttles are tested where they are the subject (mark the test ``throttled``).
    DRF binds the rates to the throttle class at import, so the class attribute is patched."""
    if request.node.get_closest_marker("throttled"):
        return
    rates = SimpleRateThrottle.THROTTLE_RATES
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {scope: None for scope in rates})


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def organization(db):
    return OrganizationFactory()


@pytest.fixture
def organizer(organization):
    return organizer_of(organization)


@pytest.fixture
def host(organization):
    return host_of(organization)


@pytest.fixture
def fan(db):
    return UserFactory()


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def as_user():
    return client_for
