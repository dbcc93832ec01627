"""The signed browser id the stream pages hand out, and the viewer keys sockets get from it."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from events.models import Session
from streams.viewer_ids import VIEWER_COOKIE, signed_viewer_id, viewer_key
from tests.factories import SessionFactory, StreamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_stream_page_gives_a_browser_a_signed_http_only_id_once():
    stream = StreamFactory(session=SessionFactory(kind=Session.Kind.LIVESTREAM))
    browser = Client()
    first = browser.get(f"/streams/{stream.id}/")
    assert first.status_code == 200
    cookie = first.cookies[VIEWER_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    viewer_id, signature = cookie.value.split(":")
    assert len(viewer_id) == 32 and signature
    assert viewer_key(scope(cookies={VIEWER_COOKIE: cookie.value})).startswith("b")  # the socket reads it
    again = browser.get(f"/streams/{stream.id}/")
    assert VIEWER_COOKIE not in again.cookies  # kept, not replaced


def scope(**parts):
    return {"user": AnonymousUser(), "cookies": {}, "client": ("203.0.113.7", 50000), **parts}


def test_viewer_keys_come_from_the_user_then_the_signed_id_then_the_address():
    user = UserFactory()
    assert viewer_key(scope(user=user)) == f"u{user.pk}"
    signed = scope(cookies={VIEWER_COOKIE: signed_viewer_id("a1b2c3d4")})
    assert viewer_key(signed).startswith("b")
    assert viewer_key(signed) == viewer_key(dict(signed, client=("198.51.100.1", 1)))  # follows the browser
    forged = scope(cookies={VIEWER_COOKIE: "a1b2c3d4:not-our-signature"})
    assert viewer_key(forged) == viewer_key(scope())  # counts as the address
    assert viewer_key(scope()) != viewer_key(scope(client=("198.51.100.1", 1)))
    assert viewer_key(scope(query_string=b"viewer=anything-i-like")) == viewer_key(scope())
