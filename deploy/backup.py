#!/usr/bin/env python3
"""Backups of the PostgreSQL database: ``make backup`` / ``make restore``.

    deploy/backup.py dump [--dir var/backups] [--keep 14]
        pg_dump of DATABASE_URL (environment or .env) in PostgreSQL's custom format, written to a
        temporary name and renamed when complete (a half-written dump never looks like a backup);
        keeps the newest --keep dumps. Schedule it (README, "Beyond one machine": cron).

    deploy/backup.py restore FILE --into postgres://user@host:5432/scratch
        Restores FILE into the database named by --into, creating it when missing; refuses a
        database that already has tables (restore into a new one, check it, then switch
        DATABASE_URL over). Prints the row counts of the main tables to compare with the source.

Needs the PostgreSQL client tools of the server's major version (Debian: postgresql-client).
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy.topology import ROOT, ConfigError, load_environment  # noqa: E402

MAIN_TABLES = [
    "accounts_user",
    "events_session",
    "registrations_registration",
    "streams_stream",
]


def say(message: str) -> None:
    print(f"[backup] {message}", flush=True)


def postgres_url(url: str, what: str) -> str:
    if not url.startswith(("postgres://", "postgresql://")):
        raise ConfigError(f"{what} must be a PostgreSQL URL (postgres://...), got {url!r}")
    # libpq understands postgresql:// (and postgres://) URIs itself.
    return url


def dump(database_url: str, directory: Path, keep: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    name = urllib.parse.urlsplit(database_url).path.lstrip("/") or "aperture"
    target = directory / f"{name}-{stamp}.dump"
    partial = target.with_suffix(".dump.partial")
    subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}", database_url],
        check=True,
    )
    partial.rename(target)
    say(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB)")
    dumps = sorted(directory.glob(f"{name}-*.dump"))
    for old in dumps[:-keep] if keep > 0 else []:
        old.unlink()
        say(f"removed {old.name} (keeping the newest {keep})")
    return target


def _admin_url(url: str) -> str:
    return urllib.parse.urlsplit(url)._replace(path="/postgres").geturl()


def restore(dump_file: Path, into: str) -> dict[str, int]:
    import psycopg

    if not dump_file.exists():
        raise ConfigError(f"{dump_file} does not exist")
    name = urllib.parse.urlsplit(into).path.lstrip("/")
    if not name:
        raise ConfigError("--into must name a database")
    with psycopg.connect(_admin_url(into), autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
            say(f"created database {name}")
    with psycopg.connect(into) as target:
        tables = target.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()[0]
    if tables:
        raise ConfigError(f"{name} already has {tables} tables: restore into a new, empty database")
    subprocess.run(
        ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={into}", str(dump_file)],
        check=True,
    )
    counts = {}
    with psycopg.connect(into) as target:
        for table in MAIN_TABLES:
            query = psycopg.sql.SQL("SELECT count(*) FROM {}").format(psycopg.sql.Identifier(table))
            counts[table] = target.execute(query).fetchone()[0]
    say(f"restored {dump_file.name} into {name}: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-file", type=Path, default=ROOT / ".env")
    commands = parser.add_subparsers(dest="command", required=True)
    dump_parser = commands.add_parser("dump", help="pg_dump DATABASE_URL into --dir")
    dump_parser.add_argument("--dir", type=Path, default=ROOT / "var" / "backups")
    dump_parser.add_argument("--keep", type=int, default=14, help="newest dumps kept (0: all)")
    restore_parser = commands.add_parser("restore", help="pg_restore a dump into a new database")
    restore_parser.add_argument("file", type=Path)
    restore_parser.add_argument("--into", required=True, help="postgres://... of the (new) target database")
    args = parser.parse_args()
    try:
        if args.command == "dump":
            env = load_environment(args.env_file)
            dump(postgres_url(env.get("DATABASE_URL", ""), "DATABASE_URL"), args.dir, args.keep)
        else:
            restore(args.file, postgres_url(args.into, "--into"))
    except ConfigError as error:
        say(f"failed: {error}")
        return 2
    except subprocess.CalledProcessError as error:
        say(f"failed: {error.cmd[0]} exited with {error.returncode}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
