"""Jobs for the job-engine tests (a job must be importable by its module path)."""

from django.conf import settings

from project import jobs


@jobs.job
def flaky(label: str) -> str:
    """Fails until the test sets ``FLAKY_JOB_SUCCEEDS``."""
    if not getattr(settings, "FLAKY_JOB_SUCCEEDS", False):
        raise RuntimeError(f"flaky job {label} failed")
    return f"done {label}"
