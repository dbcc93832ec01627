"""Which language Aperture answers in (API.md "Language"; issue 11 point 2): the signed-in
person's saved choice, else the switch's cookie, else Accept-Language, else the site's default."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from project.i18n import language_from_accept_header
from tests.conftest import token_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WRONG_PASSWORD_ZH = "用户名或密码不对。"
WRONG_PASSWORD_EN = "Unknown username or wrong password."


def wrong_password(client, **headers):
    UserFactory(username="mei")
    return client.post("/api/auth/token/", {"username": "mei", "password": "wrong"}, **headers)


@pytest.mark.parametrize("header", ["zh", "zh-CN", "zh-Hans", "zh-SG", "zh-Hans-CN", "zh-cn,zh;q=0.9,en;q=0.8"])
def test_chinese_browsers_get_chinese_errors_with_the_same_code(api_client, header):
    body = wrong_password(api_client, HTTP_ACCEPT_LANGUAGE=header).json()
    assert body["detail"] == WRONG_PASSWORD_ZH
    assert body["code"] == "invalid_credentials"


@pytest.mark.parametrize("header", ["en", "en-US", "en-GB,en;q=0.9", "fr-FR,en;q=0.5"])
def test_english_browsers_get_english(api_client, header):
    assert wrong_password(api_client, HTTP_ACCEPT_LANGUAGE=header).json()["detail"] == WRONG_PASSWORD_EN


@pytest.mark.site_default_language
@pytest.mark.parametrize("header", [None, "fr-FR", "*", "de;q=1, ja;q=0.5"])
def test_without_a_language_of_ours_the_site_default_is_chinese(header):
    client = Client(**({"HTTP_ACCEPT_LANGUAGE": header} if header else {}))
    UserFactory(username="mei")
    response = client.post(
        "/api/auth/token/", {"username": "mei", "password": "wrong"}, content_type="application/json"
    )
    assert response.json()["detail"] == WRONG_PASSWORD_ZH
    assert response["Content-Language"] == "zh-hans"
    assert '<html lang="zh-Hans">' in client.get("/").content.decode()


def test_the_settings_default_language_is_simplified_chinese_and_an_operator_may_change_it():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings"}
    env.pop("DJANGO_LANGUAGE_CODE", None)
    code = "from django.conf import settings; print(settings.LANGUAGE_CODE)"
    read = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert read.stdout.strip() == "zh-hans"
    english = subprocess.run(
        [sys.executable, "-c", code], env={**env, "DJANGO_LANGUAGE_CODE": "en"}, capture_output=True, text=True
    )
    assert english.stdout.strip() == "en"
    typo = subprocess.run(
        [sys.executable, "-c", code], env={**env, "DJANGO_LANGUAGE_CODE": "klingon"}, capture_output=True, text=True
    )
    assert typo.returncode != 0
    assert "DJANGO_LANGUAGE_CODE" in typo.stderr


def test_quality_values_order_the_header():
    assert language_from_accept_header("en;q=0.5, zh-CN;q=0.9") == "zh-hans"
    assert language_from_accept_header("zh-CN;q=0.1, en-US") == "en"
    assert language_from_accept_header("zh;q=0, en;q=0.2") == "en"
    assert language_from_accept_header("fr, de") is None
    assert language_from_accept_header("en;q=abc, zh") == "zh-hans"


def test_a_saved_language_beats_the_browser_header_for_token_calls():
    user = UserFactory(language="en")
    client = token_client(user)
    response = client.patch("/api/me/", {"language": "klingon"}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response["Content-Language"] == "en"
    assert "valid choice" in response.json()["fields"]["language"][0]


def test_a_saved_language_beats_the_browser_header_on_pages():
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    client.force_login(UserFactory(language="en"))
    page = client.get("/").content.decode()
    assert '<html lang="en">' in page
    assert "My sessions" in page


def test_a_person_who_never_chose_follows_the_browser():
    user = UserFactory(language="")
    client = token_client(user)
    assert client.get("/api/me/", HTTP_ACCEPT_LANGUAGE="zh-CN").json()["language"] == "zh-hans"
    assert client.get("/api/me/", HTTP_ACCEPT_LANGUAGE="en-US").json()["language"] == "en"


def test_patch_me_saves_the_language_and_answers_in_it():
    user = UserFactory(language="en")
    client = token_client(user)
    response = client.patch("/api/me/", {"language": "zh-hans"})
    assert response.status_code == 200
    assert response.json()["language"] == "zh-hans"
    assert response["Content-Language"] == "zh-hans"
    user.refresh_from_db()
    assert user.language == "zh-hans"
    later = client.post("/api/sessions/999999/registrations/", {}, HTTP_ACCEPT_LANGUAGE="en")
    assert later.json()["code"] == "not_found"
    assert later["Content-Language"] == "zh-hans"


def test_patch_me_refuses_an_unknown_language_and_changes_nothing():
    user = UserFactory(language="en")
    response = token_client(user).patch("/api/me/", {"language": "fr"})
    assert response.status_code == 400
    assert "language" in response.json()["fields"]
    user.refresh_from_db()
    assert user.language == "en"


def test_signup_keeps_the_language_the_person_signed_up_in(api_client):
    api_client.post(
        "/api/auth/signup/",
        {"username": "mei", "email": "mei@example.com", "password": "night-owl-2026"},
        HTTP_ACCEPT_LANGUAGE="zh-CN",
    )
    assert User.objects.get(username="mei").language == "zh-hans"


def test_the_anonymous_switch_sets_a_cookie_that_beats_the_header():
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert '<html lang="zh-Hans">' in client.get("/").content.decode()
    response = client.post("/language/", {"language": "en", "next": "/?kind=talk"})
    assert response.status_code == 302
    assert response["Location"] == "/?kind=talk"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert '<html lang="en">' in client.get("/").content.decode()


def test_the_switch_saves_the_choice_on_the_account_of_a_signed_in_person():
    user = UserFactory(language="zh-hans")
    client = Client()
    client.force_login(user)
    client.post("/language/", {"language": "en", "next": "/sessions/mine/"})
    user.refresh_from_db()
    assert user.language == "en"


def test_the_switch_never_redirects_off_site_and_ignores_unknown_languages():
    client = Client()
    response = client.post("/language/", {"language": "xx", "next": "https://evil.example/"})
    assert response["Location"] == "/"
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_signing_in_after_switching_keeps_the_switched_language():
    user = UserFactory(username="mei", language="zh-hans")
    user.set_password("night-owl-2026")
    user.save()
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    client.post("/language/", {"language": "en", "next": "/"})
    client.post("/accounts/login/", {"username": "mei", "password": "night-owl-2026"})
    user.refresh_from_db()
    assert user.language == "en"
    assert '<html lang="en">' in client.get("/sessions/mine/").content.decode()


def test_signing_in_brings_the_saved_language_to_a_new_browser():
    user = UserFactory(username="mei", language="en")
    user.set_password("night-owl-2026")
    user.save()
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    response = client.post("/accounts/login/", {"username": "mei", "password": "night-owl-2026"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    client.post("/accounts/logout/")
    page = client.get("/").content.decode()
    assert "Log in" in page
    assert '<html lang="en">' in page


def test_answers_vary_with_the_header_and_the_cookie(api_client):
    response = api_client.get("/api/sessions/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Accept-Language" in response["Vary"]
    assert "Cookie" in response["Vary"]
    assert response["Content-Language"] == "en"


def test_the_javascript_catalogue_speaks_the_page_language():
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    response = client.get("/jsi18n/?lang=zh-hans")
    assert response.status_code == 200
    assert "django.gettext" in response.content.decode() or "gettext" in response.content.decode()
