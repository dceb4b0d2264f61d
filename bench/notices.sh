#!/usr/bin/env bash
# `make bench-notices` (and the end of `make bench`): 10,000 touchpoints come due at once and one
# Celery worker on Redis sends every reminder (bench/notices.py). See docs/benchmarks.md.
#
#   BENCH_NOTICES_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/keepwarm_bench_notices;
#     the benchmark empties its outbox and touchpoints, so it never uses DATABASE_URL)
#   REDIS_URL (default redis://127.0.0.1:6379/0)
#   BENCH_NOTICES=10000  BENCH_NOTICES_POOL=prefork  BENCH_NOTICES_CONCURRENCY=2
#   BENCH_NOTICES_PARTS="send fault": the plain run (bench/notices.py), then the same with the
#     worker killed mid-run (bench/notices_fault.py; BENCH_NOTICES_KILL_AT=0.5, the share sent
#     when it kills); `make bench-notices-fault` runs "fault" only
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
[ -x "$PY" ] || PY=python3

URL="${BENCH_NOTICES_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/keepwarm_bench_notices}"
N="${BENCH_NOTICES:-10000}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export DATABASE_URL="$URL"
export DJANGO_SETTINGS_MODULE=bench.notices_settings
export LOG_LEVEL=WARNING

echo "[bench-notices] database: ${URL%%\?*}, broker: ${REDIS_URL}" >&2
"$PY" bench/ensure_db.py "$URL"
"$PY" manage.py migrate --noinput -v0
# Five touchpoints per bench account (their owners have emails); reused when already seeded.
"$PY" manage.py seed_scale --accounts $(( (N + 4) / 5 )) --crm-only -v0

status=0
for part in ${BENCH_NOTICES_PARTS:-send fault}; do
  case "$part" in
    send) "$PY" bench/notices.py --touchpoints "$N" || status=1 ;;
    fault) "$PY" bench/notices_fault.py --touchpoints "$N" || status=1 ;;
    *) echo "[bench-notices] unknown part: $part (send, fault)" >&2; exit 2 ;;
  esac
done
exit "$status"
