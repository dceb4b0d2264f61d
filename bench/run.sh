#!/usr/bin/env bash
# `make bench`: seed PostgreSQL at 100,000 accounts (and 10,000 for the growth comparison, and
# 1,000,000 for the scale comparison), then serve with gunicorn, load each page with wrk, and
# time the CSV exports. See docs/benchmarks.md.
#
#   BENCH_DATABASE_URL (else DATABASE_URL, else postgres://postgres@127.0.0.1:5432/keepwarm_bench)
#   BENCH_DATABASE_URL_SMALL   the 10k database (default: the large URL with _10k appended)
#   BENCH_DATABASE_URL_HUGE    the 1M database (default: the large URL with _1m appended)
#   BENCH_HUGE=1 (0 skips the 1M tier: neither seeded nor loaded)  BENCH_EXPORT=1 (0 skips the export step)
#   BENCH_ACCOUNTS=100000  BENCH_ACCOUNTS_SMALL=10000  BENCH_ACCOUNTS_HUGE=1000000
#   BENCH_THREADS=2  BENCH_CONNECTIONS=4  BENCH_DURATION=10  BENCH_ROUNDS=5  BENCH_WARMUP=2  BENCH_PORT (default: a free port)
#   BENCH_PAGES (only these pages)  BENCH_REDIS_DBS=11,12,13 (Redis database per size: large,small,huge)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
[ -x "$PY" ] || PY=python3

LARGE_URL="${BENCH_DATABASE_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/keepwarm_bench}}"
SMALL_URL="${BENCH_DATABASE_URL_SMALL:-${LARGE_URL}_10k}"
HUGE_URL="${BENCH_DATABASE_URL_HUGE:-${LARGE_URL}_1m}"
LARGE_N="${BENCH_ACCOUNTS:-100000}"
SMALL_N="${BENCH_ACCOUNTS_SMALL:-10000}"
HUGE_N="${BENCH_ACCOUNTS_HUGE:-1000000}"
HUGE="${BENCH_HUGE:-1}"
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
HUGE_ARG=()
if [ "$HUGE" != "0" ]; then
    # Seeded once (about 17 minutes from nothing on an idle machine, 68 on a busy one; 13 GiB;
    # docs/benchmarks.md), then reused.
    echo "[bench] huge database: ${HUGE_URL%%\?*} (${HUGE_N} accounts)" >&2
    seed "$HUGE_URL" "$HUGE_N"
    HUGE_ARG=(--huge "$HUGE_URL")
else
    echo "[bench] huge database: skipped (BENCH_HUGE=0)" >&2
fi
"$PY" manage.py collectstatic --noinput -v0

exec "$PY" bench/drive.py --large "$LARGE_URL" --small "$SMALL_URL" "${HUGE_ARG[@]}"
