#!/usr/bin/env bash
# The production stack, run for real (`make smoke`, and a step of .ci/run): docker compose cannot
# run here, so this starts what docker-compose.yml runs, with its commands and settings, on
# loopback: production settings (DEBUG off, a generated secret, SECURE_SSL_REDIRECT=false as the
# compose file sets it), static files collected into a temp dir, migrate, gunicorn, one Celery
# worker and one beat on Redis, PostgreSQL, and an SMTP catcher (aiosmtpd). scripts/smoke.py
# logs in, walks a handover to acceptance through the API, reads the customer's emails over
# SMTP, opens the customer's link, checks static files and the security headers. Then everything
# stops and the logs are read: any traceback, 5xx or token seen fails the run.
#
#   SMOKE_PG_HOST=127.0.0.1 SMOKE_PG_USER=postgres  the server (database keepwarm_smoke is recreated)
#   SMOKE_REDIS_URL=redis://127.0.0.1:6379/9       the broker and cache (flushed first)
#   SMOKE_KEEP=1                                   keep the temp dir with its logs and mail
set -euo pipefail

cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
BIN=$(dirname "$PY")
PG_HOST=${SMOKE_PG_HOST:-127.0.0.1}
PG_USER=${SMOKE_PG_USER:-postgres}
DB_NAME=keepwarm_smoke
REDIS=${SMOKE_REDIS_URL:-redis://127.0.0.1:6379/9}
started=$SECONDS

WORK=$(mktemp -d -t keepwarm-smoke.XXXXXX)
LOGS="$WORK/logs"
mkdir -p "$LOGS" "$WORK/static"  # the catcher makes its Maildir, mail/, itself
PIDS=()

stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
on_exit() {
    local status=$?
    stop_all
    if [[ -n "${SMOKE_KEEP:-}" || $status -ne 0 ]]; then
        echo "smoke: logs and mail kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
WEB_PORT=$(free_port)
SMTP_PORT=$(free_port)
BASE="http://127.0.0.1:${WEB_PORT}"

# What docker-compose.yml's x-app environment sets, pointed at loopback.
export DJANGO_SETTINGS_MODULE=config.settings.production
SECRET_KEY=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(64))')
export SECRET_KEY
unset DEBUG
export ALLOWED_HOSTS=127.0.0.1
export CSRF_TRUSTED_ORIGINS="$BASE"
export SECURE_SSL_REDIRECT=false
export DATABASE_URL="postgres://${PG_USER}@${PG_HOST}:5432/${DB_NAME}"
export REDIS_URL="$REDIS"
export EMAIL_URL="smtp://127.0.0.1:${SMTP_PORT}"
export DEFAULT_FROM_EMAIL="Keepwarm <keepwarm@localhost>"
export SITE_URL="$BASE"
export CONN_MAX_AGE=60
export STATIC_ROOT="$WORK/static"
export LOG_LEVEL=INFO
export PYTHONUNBUFFERED=1
SMOKE_PASSWORD=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(18))')
export SMOKE_PASSWORD SMOKE_BASE="$BASE" SMOKE_MAILDIR="$WORK/mail" SMOKE_SECRETS="$WORK/secrets.txt"
: >"$SMOKE_SECRETS"

echo "smoke: database $DB_NAME, Redis $REDIS, web $BASE, SMTP 127.0.0.1:$SMTP_PORT, in $WORK"
dropdb -h "$PG_HOST" -U "$PG_USER" --if-exists "$DB_NAME"
createdb -h "$PG_HOST" -U "$PG_USER" "$DB_NAME"
"$PY" - "$REDIS" <<'PY'
import sys

import redis

redis.Redis.from_url(sys.argv[1]).flushdb()
PY

# collectstatic needs no database: it runs while migrate does.
"$PY" manage.py collectstatic --noinput -v 0 >"$LOGS/collectstatic.log" 2>&1 &
collect_pid=$!
"$PY" manage.py migrate --noinput -v 0 >"$LOGS/migrate.log" 2>&1 || { cat "$LOGS/migrate.log"; exit 1; }
wait "$collect_pid" || { cat "$LOGS/collectstatic.log"; exit 1; }
"$PY" scripts/smoke.py users | "$PY" manage.py shell -v 0 >"$LOGS/users.log" 2>&1 || { cat "$LOGS/users.log"; exit 1; }
echo "smoke: collected static files, migrated, created the walk's users ($((SECONDS - started)) s)"

# The SMTP catcher: every email lands in a Maildir.
"$PY" -m aiosmtpd -n -l "127.0.0.1:${SMTP_PORT}" -c aiosmtpd.handlers.Mailbox "$WORK/mail" >"$LOGS/smtp.log" 2>&1 &
PIDS+=($!)
# docker-compose.yml's web, worker and beat commands (beat's schedule file in the temp dir).
"$BIN/gunicorn" config.wsgi:application --bind "127.0.0.1:${WEB_PORT}" --workers 2 --access-logfile - \
    --logger-class config.redaction.GunicornLogger >"$LOGS/web.log" 2>&1 &
PIDS+=($!)
"$BIN/celery" -A config worker -l info --concurrency 2 -n "smoke-${WEB_PORT}@%h" >"$LOGS/worker.log" 2>&1 &
PIDS+=($!)
"$BIN/celery" -A config beat -l info --schedule "$WORK/celerybeat-schedule" >"$LOGS/beat.log" 2>&1 &
PIDS+=($!)

for _ in $(seq 1 60); do
    if "$PY" -c "import urllib.request, sys; urllib.request.urlopen('$BASE/healthz', timeout=2)" 2>/dev/null; then
        break
    fi
    for pid in "${PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || { echo "smoke: a process died while starting"; tail -n 50 "$LOGS"/*.log; exit 1; }
    done
    sleep 0.5
done
for pid in "${PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "smoke: a process died while starting"; tail -n 50 "$LOGS"/*.log; exit 1; }
done
echo "smoke: gunicorn, worker, beat and the SMTP catcher are up ($((SECONDS - started)) s)"

walk_status=0
"$PY" scripts/smoke.py walk || walk_status=$?

stop_all
echo "smoke: everything stopped; reading the logs"
scan_status=0
"$PY" scripts/smoke.py scan "$LOGS"/*.log || scan_status=$?
if [[ $walk_status -ne 0 || $scan_status -ne 0 ]]; then
    echo "smoke: FAILED (walk $walk_status, logs $scan_status); last lines of each log:" >&2
    for log in "$LOGS"/*.log; do
        echo "---- $(basename "$log")" >&2
        tail -n 20 "$log" >&2
    done
    exit 1
fi
echo "smoke: passed in $((SECONDS - started)) s"
