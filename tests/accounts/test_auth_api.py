import pytest

from accounts.models import Membership, User
from tests.factories import MembershipFactory, SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_signup_creates_a_fan_who_can_log_in_with_a_token(api_client):
    response = api_client.post(
        "/api/auth/signup/", {"username": "mei", "email": "mei@example.com", "password": "night-owl-2026"}
    )
    assert response.status_code == 201
    assert response.json()["roles"] == ["fan"]
    token = api_client.post("/api/auth/token/", {"username": "mei", "password": "night-owl-2026"}).json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = api_client.get("/api/me/").json()
    assert me["username"] == "mei"
    assert me["roles"] == ["fan"]


def test_signup_refuses_a_taken_username_and_changes_nothing(api_client):
    UserFactory(username="mei")
    response = api_client.post(
        "/api/auth/signup/", {"username": "MEI", "email": "x@example.com", "password": "night-owl-2026"}
    )
    assert response.status_code == 400
    assert "username" in response.json()["fields"]
    assert User.objects.filter(username__iexact="mei").count() == 1


def test_signup_refuses_a_weak_password(api_client):
    response = api_client.post("/api/auth/signup/", {"username": "mei", "email": "mei@example.com", "password": "123"})
    assert response.status_code == 400
    assert response.json()["fields"]["password"]
    assert not User.objects.filter(username="mei").exists()


def test_wrong_password_gets_no_token(api_client):
    UserFactory(username="mei")
    response = api_client.post("/api/auth/token/", {"username": "mei", "password": "wrong"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"
    assert "token" not in response.json()


def test_me_needs_authentication(api_client):
    response = api_client.get("/api/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_bad_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api_client.get("/api/me/")
    assert response.status_code == 401


def test_roles_come_from_memberships_and_hosting(as_user, organization):
    organizer = MembershipFactory(organization=organization, role=Membership.Role.ORGANIZER).user
    member_host = MembershipFactory(organization=organization, role=Membership.Role.HOST).user
    session_host = UserFactory()
    SessionFactory(hosts=[session_host])
    assert as_user(organizer).get("/api/me/").json()["roles"] == ["fan", "organizer"]
    assert as_user(member_host).get("/api/me/").json()["roles"] == ["fan", "host"]
    assert as_user(session_host).get("/api/me/").json()["roles"] == ["fan", "host"]


def test_a_superuser_is_an_organizer(as_user):
    admin = UserFactory(is_superuser=True, is_staff=True)
    assert "organizer" in as_user(admin).get("/api/me/").json()["roles"]


@pytest.mark.throttled
def test_repeated_failed_logins_are_throttled(api_client, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "login": "3/min"})
    codes = [api_client.post("/api/auth/token/", {"username": "x", "password": "y"}).status_code for _ in range(5)]
    assert codes[:3] == [400, 400, 400]
    assert codes[3:] == [429, 429]
    assert api_client.post("/api/auth/token/", {"username": "x", "password": "y"}).json()["code"] == "throttled"
