"""The streams part of the demo program (``frontend.demo.load_demo``): the grotto night tour's stream."""

from __future__ import annotations

from accounts.models import Organization, User
from events.models import Session
from streams.models import Stream


def demo_stream_create(*, organization: Organization, session: Session, hosts: list[User]) -> Stream:
    stream = Stream.objects.create(
        organization=organization,
        session=session,
        title="Longmen Grottoes night tour · 龙门石窟夜游",
        playback_url="https://live.example.com/aperture/longmen-night-tour.m3u8",
    )
    stream.hosts.set(hosts)
    return stream
