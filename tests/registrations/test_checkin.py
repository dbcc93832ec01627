import pytest

from registrations import services
from registrations.models import CHECKIN_ALPHABET, CHECKIN_LENGTH, Registration, checkin_code_grouped, new_checkin_code
from tests.conftest import client_for
from tests.factories import (
    OrganizationFactory,
    RegistrationFactory,
    SeriesFactory,
    SessionFactory,
    UserFactory,
    host_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(organization, host):
    return SessionFactory(series=SeriesFactory(organization=organization), hosts=[host], capacity=10)


def scan(user, session, code):
    return client_for(user).post(f"/api/sessions/{session.id}/checkin/", {"checkin_code": code})


def test_host_checks_a_confirmed_fan_in_and_a_second_scan_is_409(session, host):
    registration = services.registration_create(session=session, fan=UserFactory())
    response = scan(host, session, registration.checkin_code)
    assert response.status_code == 200
    assert response.json()["fan_username"] == registration.fan.username
    assert response.json()["checked_in_at"]
    again = scan(host, session, registration.checkin_code)
    assert again.status_code == 409
    assert again.json()["code"] == "already_checked_in"
    registration.refresh_from_db()
    assert registration.checked_in_by_id == host.id


def test_organizer_of_the_session_may_check_in(session, organizer):
    registration = services.registration_create(session=session, fan=UserFactory())
    assert scan(organizer, session, registration.checkin_code).status_code == 200


def test_fans_other_hosts_and_other_organizers_may_not_check_in(session):
    registration = services.registration_create(session=session, fan=UserFactory())
    other_host = host_of(OrganizationFactory())
    for user in (registration.fan, UserFactory(), other_host):
        response = scan(user, session, registration.checkin_code)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    registration.refresh_from_db()
    assert registration.checked_in_at is None


def test_unknown_code_or_code_of_another_session_is_404(session, host):
    elsewhere = RegistrationFactory()
    unknown = scan(host, session, "not-a-code")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"
    other = scan(host, session, elsewhere.checkin_code)
    assert other.status_code == 404
    assert other.json()["code"] == "not_for_this_session"
    elsewhere.refresh_from_db()
    assert elsewhere.checked_in_at is None


def test_the_door_answers_name_party_and_who_checked_in_first(session, host):
    fan = UserFactory(first_name="Mei", last_name="Lin")
    registration = services.registration_create(session=session, fan=fan)
    body = scan(host, session, registration.checkin_code).json()
    assert body["registration"] == registration.id
    assert body["fan"] == fan.id
    assert body["fan_name"] == "Mei Lin"
    assert body["party_size"] == 1
    assert body["checked_in_at"]
    again = scan(host, session, registration.checkin_code).json()
    assert again["code"] == "already_checked_in"
    assert again["checked_in_at"] == body["checked_in_at"]
    assert again["checked_in_by"] == host.id
    assert again["checked_in_by_name"] == (host.get_full_name() or host.username)


def test_a_cancelled_registration_is_409_cancelled(session, host):
    registration = services.registration_create(session=session, fan=UserFactory())
    code = registration.checkin_code
    services.registration_cancel(registration=registration)
    registration.refresh_from_db()
    response = scan(host, session, registration.checkin_code)
    assert response.status_code == 409
    assert response.json()["code"] == "cancelled"
    assert scan(host, session, code).json()["code"] in {"cancelled", "not_found"}


def test_short_codes_read_aloud_are_found_grouped_lower_case_or_with_look_alikes(session, host):
    registration = services.registration_create(session=session, fan=UserFactory())
    registration.checkin_code = "7K30-1MQ2HR4T".replace("-", "")
    registration.save(update_fields=["checkin_code"])
    typed = " 7k3o-imq2 hr4t "  # O for 0, I for 1, lower case, spaces and a dash
    assert scan(host, session, typed).status_code == 200


def test_old_long_codes_keep_working(session, host):
    registration = services.registration_create(session=session, fan=UserFactory())
    registration.checkin_code = "aB3_x-Zq9LmN0pQrStUvWx"  # a 22-character code issued before short codes
    registration.save(update_fields=["checkin_code"])
    assert scan(host, session, registration.checkin_code).status_code == 200


def test_waitlisted_fan_cannot_be_checked_in(session, host):
    session.capacity = 0
    session.save(update_fields=["capacity"])
    registration = services.registration_create(session=session, fan=UserFactory())
    assert registration.status == Registration.Status.WAITLISTED
    response = scan(host, session, registration.checkin_code)
    assert response.status_code == 409
    assert response.json()["code"] == "not_confirmed"


def test_checked_in_fan_cannot_cancel(session, host):
    registration = services.registration_create(session=session, fan=UserFactory())
    scan(host, session, registration.checkin_code)
    response = client_for(registration.fan).delete(f"/api/registrations/{registration.id}/")
    assert response.status_code == 409
    assert response.json()["code"] == "already_checked_in"


def test_checkin_stats_count_the_door(session, host):
    fans = UserFactory.create_batch(4)
    regs = [services.registration_create(session=session, fan=f) for f in fans]
    services.registration_cancel(registration=regs[3])
    for registration in regs[:2]:
        scan(host, session, registration.checkin_code)
    response = client_for(host).get(f"/api/sessions/{session.id}/checkin/stats/")
    assert response.status_code == 200
    body = response.json()
    assert body["confirmed"] == 3
    assert body["checked_in"] == 2
    assert body["not_checked_in"] == 1
    assert body["cancelled"] == 1
    assert body["checkin_rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert sum(b["checked_in"] for b in body["timeline"]) == 2
    assert client_for(fans[0]).get(f"/api/sessions/{session.id}/checkin/stats/").status_code == 403


@pytest.mark.parametrize(
    ("fmt", "content_type", "magic"), [("svg", "image/svg+xml", b"<svg"), ("png", "image/png", b"\x89PNG")]
)
def test_fan_gets_a_qr_image_of_their_own_ticket(session, fmt, content_type, magic):
    registration = services.registration_create(session=session, fan=UserFactory())
    response = client_for(registration.fan).get(f"/api/registrations/{registration.id}/qr.{fmt}")
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response.content.startswith(magic)
    assert client_for(UserFactory()).get(f"/api/registrations/{registration.id}/qr.{fmt}").status_code == 404


def test_checkin_codes_are_unguessable_and_distinct(session):
    regs = [services.registration_create(session=session, fan=UserFactory()) for _ in range(5)]
    codes = {r.checkin_code for r in regs}
    assert len(codes) == 5
    # 12 symbols of Crockford's base 32 (60 bits), none of the look-alikes I, L, O, U
    assert all(len(c) == 12 and set(c) <= set(CHECKIN_ALPHABET) for c in codes)
    assert not set("ILOU") & set(CHECKIN_ALPHABET)
    assert checkin_code_grouped("7K3M9XQ2HR4T") == "7K3M-9XQ2-HR4T"


def test_the_ticket_qr_is_a_full_qr_code_not_a_micro_qr(session):
    """Short codes would fit a Micro QR, which phone cameras and jsQR cannot read."""
    from registrations.models import checkin_qr

    registration = services.registration_create(session=session, fan=UserFactory())
    qr = checkin_qr(registration.checkin_code)
    assert not qr.is_micro and qr.version >= 1


def test_new_checkin_codes_use_every_symbol_in_every_position():
    """Each symbol is 5 bits of one random draw: a wrong shift or mask would leave a position
    stuck on part of the alphabet (and the code far easier to guess)."""
    codes = [new_checkin_code() for _ in range(3000)]
    assert all(len(code) == CHECKIN_LENGTH and set(code) <= set(CHECKIN_ALPHABET) for code in codes)
    for position in range(CHECKIN_LENGTH):
        assert {code[position] for code in codes} == set(CHECKIN_ALPHABET)
    assert len(set(codes)) == len(codes)
