"""One person, one entry: the email verification flow (a link by email, through the notices outbox)."""

import re

import pytest

from notices.models import Notice
from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def link_token(user) -> str:
    notice = Notice.objects.get(recipient=user, kind=Notice.Kind.ACCOUNT)
    return re.search(r"/verify-email/\?token=(\S+)", notice.body).group(1)


def test_a_fan_verifies_their_address_with_the_emailed_link(api_client, run_jobs, mailoutbox):
    fan = UserFactory(email="mei@example.com")
    assert client_for(fan).get("/api/me/").json()["email_verified"] is False
    assert client_for(fan).post("/api/me/verify-email/").status_code == 202
    run_jobs()
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["mei@example.com"]
    token = link_token(fan)
    assert token in mailoutbox[0].body
    response = api_client.post("/api/auth/verify-email/", {"token": token})
    assert response.status_code == 200, response.content
    assert response.json()["email_verified"] is True
    fan.refresh_from_db()
    assert fan.email_verified_at is not None


def test_a_link_for_an_old_address_or_a_forged_one_is_refused(api_client):
    fan = UserFactory(email="old@example.com")
    client_for(fan).post("/api/me/verify-email/")
    token = link_token(fan)
    fan.email = "new@example.com"
    fan.save()
    for bad in (token, token[:-2] + "xx", "nonsense"):
        response = api_client.post("/api/auth/verify-email/", {"token": bad})
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_token"
    fan.refresh_from_db()
    assert fan.email_verified_at is None


def test_the_page_of_the_link_verifies_too(client):
    fan = UserFactory(email="page@example.com")
    client_for(fan).post("/api/me/verify-email/")
    response = client.get(f"/verify-email/?token={link_token(fan)}")
    assert response.status_code == 200
    fan.refresh_from_db()
    assert fan.email_verified_at is not None
