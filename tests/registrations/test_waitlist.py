import pytest
from django.core import mail
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from events.models import Session
from notices.models import Notice
from registrations import services
from registrations.models import Registration, checkin_code_grouped
from tests.conftest import client_for
from tests.factories import SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def fill(session, n):
    fans = UserFactory.create_batch(n)
    return [services.registration_create(session=session, fan=f) for f in fans]


def positions(session):
    """(username, position) of the waitlist in order, positions as fans see them (counted when read)."""
    waiting = Registration.objects.filter(session=session, status=Registration.Status.WAITLISTED).select_related("fan")
    return [(r.fan.username, r.waitlist_position) for r in waiting.order_by("waitlist_ticket")]


def test_cancel_promotes_first_waitlisted_fan_and_tells_them(run_jobs):
    session = SessionFactory(capacity=2)
    regs = fill(session, 5)
    response = client_for(regs[0].fan).delete(f"/api/registrations/{regs[0].id}/")
    run_jobs()
    assert response.status_code == 204
    regs[2].refresh_from_db()
    assert regs[2].status == Registration.Status.CONFIRMED
    assert regs[2].waitlist_position is None
    assert positions(session) == [(regs[3].fan.username, 1), (regs[4].fan.username, 2)]
    session.refresh_from_db()
    assert (session.confirmed_count, session.waitlist_count) == (2, 2)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [regs[2].fan.email]
    assert checkin_code_grouped(regs[2].checkin_code) in mail.outbox[0].body


def test_a_promotion_that_rolls_back_queues_no_notice_and_no_job(run_jobs):
    session = SessionFactory(capacity=1)
    fill(session, 2)
    with pytest.raises(RuntimeError), transaction.atomic():
        locked = Session.objects.select_for_update().get(id=session.id)
        Session.objects.filter(id=session.id).update(capacity=2)
        locked.refresh_from_db()
        assert len(services.waitlist_fill(session=locked)) == 1
        # The job that tells the fan is written in the transaction (the notice by the job, after it).
        assert Notice.objects.count() == 0 and DBTaskResult.objects.count() == 1
        raise RuntimeError("rolled back")
    assert Notice.objects.count() == 0
    assert DBTaskResult.objects.count() == 0
    assert run_jobs() == 0
    assert mail.outbox == []


def test_waitlisted_fan_leaving_closes_the_gap():
    session = SessionFactory(capacity=1)
    regs = fill(session, 4)
    services.registration_cancel(registration=regs[2])  # position 2 of 3
    assert positions(session) == [(regs[1].fan.username, 1), (regs[3].fan.username, 2)]
    session.refresh_from_db()
    assert (session.confirmed_count, session.waitlist_count) == (1, 2)


def test_raising_capacity_promotes_the_first_waitlisted_fans(run_jobs):
    """What the planning side does when an organizer raises capacity: lock, raise, fill."""
    session = SessionFactory(capacity=1)
    regs = fill(session, 4)
    with transaction.atomic():
        locked = Session.objects.select_for_update().get(id=session.id)
        locked.capacity = 3
        locked.save(update_fields=["capacity"])
        promoted = services.waitlist_fill(session=locked)
    run_jobs()
    assert [r.id for r in promoted] == [regs[1].id, regs[2].id]
    assert positions(session) == [(regs[3].fan.username, 1)]
    session.refresh_from_db()
    assert (session.confirmed_count, session.waitlist_count) == (3, 1)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([regs[1].fan.email, regs[2].fan.email])


def test_lowering_capacity_below_confirmed_is_refused_by_the_database():
    from django.db import IntegrityError

    session = SessionFactory(capacity=3)
    fill(session, 3)
    with pytest.raises(IntegrityError), transaction.atomic():
        Session.objects.filter(id=session.id).update(capacity=2)


def test_new_registration_does_not_jump_a_waitlist_when_seats_were_freed_without_a_fill():
    session = SessionFactory(capacity=1)
    regs = fill(session, 2)
    # Someone raised capacity without filling (not our services): the waitlisted fan still comes first.
    Session.objects.filter(id=session.id).update(capacity=2)
    newcomer = services.registration_create(session=session, fan=UserFactory())
    regs[1].refresh_from_db()
    assert regs[1].status == Registration.Status.CONFIRMED
    assert newcomer.status == Registration.Status.WAITLISTED
    assert newcomer.waitlist_position == 1
