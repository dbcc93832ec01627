"""Health endpoints for load balancers, process managers and operators.

- ``GET /api/health/live/`` (liveness): the process answers HTTP. Touches nothing else: no database,
  no Redis, no authentication, so it is also the benchmarks' yardstick for the cost of Django + DRF
  alone. A failing liveness probe means "restart this process".
- ``GET /api/health/ready/`` and ``GET /api/health/`` (readiness): the database answers, Redis
  answers (when ``REDIS_URL`` is set) and the background-job queue is not stuck (the oldest job
  that is due has waited less than ``HEALTH_QUEUE_MAX_AGE_SECONDS``). 200 ``{"status": "ok",
  "checks": {...}}``, or 503 with ``"status": "unavailable"`` and each failing check's reason.
  A failing readiness probe means "send no traffic here for now", not "restart": a restart does not
  bring a database back.

Each check is one cheap round trip with a short timeout, so a probe every few seconds costs nothing
and a dead dependency is reported in about a second instead of hanging the probe.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

logger = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 1.0

_redis_client = None


def _redis():
    """One client (and connection pool) per process, with short timeouts for the probe."""
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
    return _redis_client


def check_database() -> str | None:
    """None when the database answers a trivial query, else why not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"; the reason goes to the log
        logger.warning("health: database check failed: %s", exc)
        connection.close_if_unusable_or_obsolete()
        return _("the database does not answer")
    return None


def check_redis() -> str | None:
    """None when Redis answers PING (or is not configured: the in-process backends need none)."""
    if not settings.REDIS_URL:
        return None
    try:
        _redis().ping()
    except Exception as exc:
        logger.warning("health: Redis check failed: %s", exc)
        return _("Redis does not answer")
    return None


def oldest_due_job_age() -> dt.timedelta | None:
    """How long the oldest job that is due (ready, and its ``run_after`` passed) has waited, or None
    when no job is waiting or no database job queue is installed."""
    if not apps.is_installed("django_tasks_db"):
        return None
    from django.db.models import Case, F, Min, When
    from django_tasks_db.models import DBTaskResult, get_date_max

    now = timezone.now()
    # run_after holds a far-future sentinel for "as soon as possible": such a job is due since it
    # was enqueued, a delayed one since its run_after.
    due_since = (
        DBTaskResult.objects.ready()
        .annotate(due_since=Case(When(run_after=get_date_max(), then=F("enqueued_at")), default=F("run_after")))
        .aggregate(oldest=Min("due_since"))["oldest"]
    )
    return None if due_since is None else max(now - due_since, dt.timedelta(0))


def check_job_queue() -> str | None:
    """None when no due job has waited longer than HEALTH_QUEUE_MAX_AGE_SECONDS: longer means the
    job workers are down or cannot keep up."""
    try:
        age = oldest_due_job_age()
    except Exception as exc:
        logger.warning("health: job queue check failed: %s", exc)
        return _("the job queue cannot be read")
    limit = settings.HEALTH_QUEUE_MAX_AGE_SECONDS
    if age is not None and age.total_seconds() > limit:
        return _("the oldest waiting job has waited %(age)d s (limit %(limit)d s): are the job workers running?") % {
            "age": age.total_seconds(),
            "limit": limit,
        }
    return None


READINESS_CHECKS: dict[str, Callable[[], str | None]] = {
    "database": check_database,
    "redis": check_redis,
    "job_queue": check_job_queue,
}


def readiness() -> dict[str, str]:
    """Every check's outcome: "ok" or the reason it failed. The job queue is read only when the
    database answered (its check would only repeat the database's failure)."""
    results: dict[str, str] = {}
    for name, check in READINESS_CHECKS.items():
        if name == "job_queue" and results.get("database") != "ok":
            results[name] = _("not checked: the database does not answer")
            continue
        results[name] = check() or "ok"
    return results


class _ProbeApi(APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes: list = []


class LivenessApi(_ProbeApi):
    """The process answers HTTP (nothing else is touched)."""

    @extend_schema(
        summary="Liveness probe",
        responses={200: inline_serializer("Liveness", {"status": serializers.CharField()})},
    )
    def get(self, request):
        return Response({"status": "ok"})


class ReadinessApi(_ProbeApi):
    """The database, Redis and the job queue are usable: 200, or 503 naming what is wrong."""

    @extend_schema(
        summary="Readiness probe: database, Redis, job queue",
        responses={
            (200, "application/json"): inline_serializer(
                "Readiness",
                {
                    "status": serializers.CharField(help_text="ok or unavailable"),
                    "checks": serializers.DictField(child=serializers.CharField()),
                },
            ),
            (503, "application/json"): inline_serializer(
                "ReadinessFailed",
                {
                    "status": serializers.CharField(help_text="ok or unavailable"),
                    "checks": serializers.DictField(child=serializers.CharField()),
                    "detail": serializers.CharField(),
                    "code": serializers.CharField(),
                },
            ),
        },
    )
    def get(self, request):
        checks = readiness()
        failing = {name: reason for name, reason in checks.items() if reason != "ok"}
        if not failing:
            return Response({"status": "ok", "checks": checks})
        detail = "; ".join(f"{name}: {reason}" for name, reason in failing.items())
        body = {"status": "unavailable", "checks": checks, "detail": detail, "code": "unavailable", "fields": {}}
        return Response(body, status=503, headers={"Retry-After": "5", "Cache-Control": "no-store"})
