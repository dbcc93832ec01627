"""When hosts start a stream, the session's fans hear it is live; waitlisted fans that the stream is
theirs (the seat went to others, the livestream did not), in their language, through the outbox."""

import pytest
from django.utils import translation

from notices.models import Notice
from registrations.models import Registration
from streams import services
from tests.factories import RegistrationFactory, StreamFactory, UserFactory

pytestmark = pytest.mark.django_db


def _fans(stream):
    confirmed = RegistrationFactory(session=stream.session, fan=UserFactory(language="en"), status="confirmed")
    waitlisted = RegistrationFactory(session=stream.session, fan=UserFactory(language="zh-hans"), status="waitlisted")
    RegistrationFactory(session=stream.session, status=Registration.Status.CANCELLED)
    return confirmed, waitlisted


def test_going_live_tells_waitlisted_fans_the_stream_is_theirs_and_confirmed_ones_it_is_live(mailoutbox, run_jobs):
    stream = StreamFactory(audience="registered")
    confirmed, waitlisted = _fans(stream)
    services.stream_start(stream=stream)
    notices = {n.recipient_id: n for n in Notice.objects.filter(kind=Notice.Kind.STARTING)}
    assert set(notices) == {confirmed.fan_id, waitlisted.fan_id}
    assert notices[confirmed.fan_id].subject.startswith("Live now:")
    with translation.override("zh-hans"):
        assert notices[waitlisted.fan_id].subject.startswith("直播是你的")
    assert f"/streams/{stream.id}/" in notices[waitlisted.fan_id].body
    assert run_jobs() >= 1
    assert sorted(m.to[0] for m in mailoutbox) == sorted([confirmed.fan.email, waitlisted.fan.email])


def test_a_confirmed_only_stream_tells_only_confirmed_fans(run_jobs):
    stream = StreamFactory(audience="confirmed")
    confirmed, _waitlisted = _fans(stream)
    services.stream_start(stream=stream)
    assert list(Notice.objects.values_list("recipient_id", flat=True)) == [confirmed.fan_id]
