"""The README's production environment passes ``manage.py check --deploy`` with no warning."""

import re
import secrets
import shlex
import subprocess
import sys

from django.conf import settings


def readme_production_environment() -> dict[str, str]:
    """Every ``export NAME=value`` line of the README's production section, as the operator runs it."""
    readme = (settings.BASE_DIR / "README.md").read_text()
    section = readme.split("## Production", 1)[1].split("\n## ", 1)[0]
    env: dict[str, str] = {}
    for line in re.findall(r"^export (.+)$", section, flags=re.MULTILINE):
        for pair in shlex.split(line.split("#", 1)[0]):
            name, _, value = pair.partition("=")
            env[name] = value
    env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)  # the README leaves it to the operator ("...")
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "DJANGO_SETTINGS_MODULE": "project.settings"}  # noqa: S108
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_readme_production_environment_passes_check_deploy_without_a_warning():
    env = readme_production_environment()
    assert env["DJANGO_SECURE_PROXY_SSL_HEADER"] == "X-Forwarded-Proto"  # what the README's nginx sends
    result = check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_without_the_https_variables_check_deploy_warns():
    env = {
        name: value
        for name, value in readme_production_environment().items()
        if not name.startswith(("DJANGO_SECURE", "DJANGO_HSTS"))
    }
    result = check_deploy(env)
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout
