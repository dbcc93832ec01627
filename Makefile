# Two commands do everything on a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test install migrate lint format prod prod-check prod-restart backup restore clean messages catalogues

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

## Compiled catalogues (.mo) are built in Python from the committed .po files: no gettext needed.
install: $(BIN)/.installed
	$(BIN)/python -m project.catalogues

catalogues: install

## New or changed texts -> the .po catalogues (needs GNU gettext: apt-get install gettext), then
## translate the new entries (README, "Language"). One catalogue per app: <app>/locale/zh_Hans/.
MAKEMESSAGES := $(BIN)/python manage.py makemessages -l zh_Hans --no-obsolete --no-wrap --add-location=file \
	--ignore=.venv --ignore=tests --ignore=bench --ignore=staticfiles
messages: install
	$(MAKEMESSAGES) -d django
	$(MAKEMESSAGES) -d djangojs
	$(BIN)/python -m project.catalogues

migrate: install
	$(BIN)/python manage.py migrate --noinput

## The product: migrate, load the demo program, serve HTTP + websockets over ASGI on SQLite, with a
## background-job worker beside it (notices, reminders); Ctrl-C stops both (project/serve.py).
demo: migrate
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py plan_reminders
	$(BIN)/python -m project.serve --host $(HOST) --port $(PORT)

## The whole test suite (SQLite and the in-memory backends unless DATABASE_URL / REDIS_URL are set).
test: install
	$(BIN)/python -m pytest -n 2 -q

## Production on one machine: PostgreSQL + Redis (DATABASE_URL, REDIS_URL ... from the environment or
## .env, see .env.example), nginx in front of gunicorn, uvicorn and the job workers under supervisord.
prod: install
	$(BIN)/python deploy/prod.py

## Render nginx's and supervisord's configuration and check it, start nothing.
prod-check: install
	$(BIN)/python deploy/prod.py --check

## Rolling restart of a running `make prod` (new code): no request lost, viewers reconnect.
prod-restart: install
	$(BIN)/python deploy/restart.py

## pg_dump of DATABASE_URL into var/backups/ (newest 14 kept); restore one into a new database:
## make restore FILE=var/backups/<name>.dump INTO=postgres://postgres@127.0.0.1:5432/aperture_restored
backup: install
	$(BIN)/python deploy/backup.py dump

restore: install
	$(BIN)/python deploy/backup.py restore $(FILE) --into $(INTO)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-shm db.sqlite3-wal staticfiles var
