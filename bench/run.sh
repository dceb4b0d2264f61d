#!/usr/bin/env bash
# `make bench`: seed PostgreSQL at 100,000 accounts (and 10,000 for the growth comparison), then
# serve with gunicorn and load each page with wrk. See docs/benchmarks.md.
#
#   BENCH_DATABASE_URL (else DATABASE_URL, else postgres://postgres@127.0.0.1:5432/keepwarm_bench)
#   BENCH_DATABASE_URL_SMALL   the 10k database (default: the large URL with _10k appended)
#   BENCH_ACCOUNTS=100000  BENCH_ACCOUNTS_SMALL=10000
#   BENCH_THREADS=2  BENCH_CONNECTIONS=4  BENCH_DURATION=10  BENCH_ROUNDS=5  BENCH_WARMUP=2  BENCH_PORT (default: a free port)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
[ -x "$PY" ] || PY=python3

LARGE_URL="${BENCH_DATABASE_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/keepwarm_bench}}"
SMALL_URL="${BENCH_DATABASE_URL_SMALL:-${LARGE_URL}_10k}"
LARGE_N="${BENCH_ACCOUNTS:-100000}"
SMALL_N="${BENCH_ACCOUNTS_SMALL:-10000}"
export DJANGO_SETTINGS_MODULE=config.settings.bench
# The cache as in production: Redis when it answers (each database keeps its own keys), else
# each gunicorn worker's own memory.
if [ -z "${REDIS_URL:-}" ] && command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    export REDIS_URL=redis://127.0.0.1:6379/0
fi
echo "[bench] cache: ${REDIS_URL:-local memory per worker}" >&2
export LOG_LEVEL=WARNING

if ! command -v wrk >/dev/null; then
    echo "wrk is not installed: apt-get install -y wrk" >&2
    exit 1
fi

seed() {  # url accounts
    "$PY" bench/ensure_db.py "$1"
    DATABASE_URL="$1" "$PY" manage.py migrate --noinput -v0
    # Reuses the data when the database already holds enough bench accounts.
    DATABASE_URL="$1" "$PY" manage.py seed_scale --accounts "$2"
}

echo "[bench] large database: ${LARGE_URL%%\?*} (${LARGE_N} accounts)" >&2
seed "$LARGE_URL" "$LARGE_N"
echo "[bench] small database: ${SMALL_URL%%\?*} (${SMALL_N} accounts)" >&2
seed "$SMALL_URL" "$SMALL_N"
"$PY" manage.py collectstatic --noinput -v0

exec "$PY" bench/drive.py --large "$LARGE_URL" --small "$SMALL_URL"
