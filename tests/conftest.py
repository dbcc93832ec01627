import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import OrganizationFactory, UserFactory, host_of, organizer_of


def pytest_configure(config):
    """The compiled catalogues (.mo) are build output: compile the .po files in Python before the
    first test (project/catalogues.py; only when a .po is newer, atomically, so xdist workers may race)."""
    from project.catalogues import compile_all

    compile_all()


@pytest.fixture(autouse=True)
def _english_unless_asked(settings, request):
    """Tests read the English source texts unless they are about language: the site's default
    (zh-hans, project/settings.py) is set back by tests marked ``site_default_language``, and a
    test may always ask for a language itself (Accept-Language, ``translation.override``)."""
    if not request.node.get_closest_marker("site_default_language"):
        settings.LANGUAGE_CODE = "en"


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
def _no_page_cache(request, settings):
    """Pages are rendered afresh unless the test is about their shared cache (mark ``page_cache``):
    a test's writes are never committed, so the version that invalidates the cache never moves."""
    if not request.node.get_closest_marker("page_cache"):
        settings.PAGE_CACHE_SECONDS = 0


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    from frontend.page_cache import forget_rendered_pages
    from project.throttles import local_counts
    from registrations.lines import forget_lines

    forget_rendered_pages()
    forget_lines()
    local_counts.clear()
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


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite the test database is a file (one per xdist worker) unless SQLITE_TEST_NAME says
    otherwise: the concurrency tests' threads open their own connections, and an in-memory
    database in shared-cache mode answers them "database table is locked" instead of waiting."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3" and not (db.get("TEST") or {}).get("NAME"):
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("sqlite") / "test.sqlite3")


def token_client(user) -> APIClient:
    """A client that authenticates like a real app, with ``Authorization: Token``."""
    from rest_framework.authtoken.models import Token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def run_jobs(db):
    """Runs the background jobs that are due, now, through the framework's worker
    (``project.jobs.run_due``); a failed job fails the test. Returns how many ran."""
    from project.jobs import run_due

    return run_due
