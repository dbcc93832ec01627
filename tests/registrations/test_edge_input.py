import pytest

from registrations.models import PriorityCode, Registration
from tests.conftest import client_for
from tests.factories import SeriesFactory, SessionFactory

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", f"/api/sessions/{HUGE}/registrations/"),
        ("post", f"/api/sessions/{HUGE}/checkin/"),
        ("get", f"/api/sessions/{HUGE}/checkin/stats/"),
        ("get", f"/api/registrations/{HUGE}/"),
        ("delete", f"/api/registrations/{HUGE}/"),
        ("get", f"/api/registrations/{HUGE}/qr.svg"),
        ("get", f"/api/priority-codes/{HUGE}/"),
    ],
)
def test_out_of_range_ids_are_json_4xx_not_500(organizer, method, path):
    response = getattr(client_for(organizer), method)(path, {"checkin_code": "x"}, format="json")
    assert 400 <= response.status_code < 500
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    "body",
    [
        {"count": HUGE},
        {"count": 5, "max_uses": HUGE},
        {"count": 5, "expires_at": "2026-13-45T99:00:00+08:00"},
        {"count": 5, "expires_at": "2030-01-01T00:00:00"},
        {"count": 5, "prefix": "no spaces allowed"},
        {"count": 5, "series": HUGE},
    ],
)
def test_bad_batch_input_is_400_and_creates_nothing(organizer, organization, body):
    series = SeriesFactory(organization=organization)
    response = client_for(organizer).post("/api/priority-codes/batch/", {"series": series.id, **body}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not PriorityCode.objects.exists()


def test_overlong_priority_code_is_400(fan):
    session = SessionFactory()
    response = client_for(fan).post(
        f"/api/sessions/{session.id}/registrations/", {"priority_code": "X" * 500}, format="json"
    )
    assert response.status_code == 400
    assert not Registration.objects.exists()


def test_registration_body_that_is_not_an_object_is_400(fan):
    session = SessionFactory()
    response = client_for(fan).post(f"/api/sessions/{session.id}/registrations/", [1, 2], format="json")
    assert response.status_code == 400
    assert not Registration.objects.exists()
