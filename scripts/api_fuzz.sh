#!/usr/bin/env bash
# Schema-driven fuzzing of the API (reliability.md 30): start a local server on a throwaway
# database, sign in as the demo sales manager, run schemathesis against /api/schema/ with a
# bounded number of examples per operation, stop the server. Exits non-zero on any 5xx,
# undocumented status code or response that breaks the schema.
#
#   scripts/api_fuzz.sh                       # throwaway SQLite database under a temp dir
#   DATABASE_URL=postgres://... scripts/api_fuzz.sh   # an existing database (migrated and seeded)
#   FUZZ_EXAMPLES=50 FUZZ_PORT=8765 scripts/api_fuzz.sh   (default: a free port)
set -euo pipefail

cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
ST=${SCHEMATHESIS:-.venv/bin/schemathesis}
# A free port unless one is given: a server left on a fixed port would be fuzzed instead of ours.
PORT=${FUZZ_PORT:-$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
EXAMPLES=${FUZZ_EXAMPLES:-25}
FUZZ_USER=${FUZZ_USER:-salesmgr}
FUZZ_PASSWORD=${FUZZ_PASSWORD:-keepwarm}
BASE="http://127.0.0.1:${PORT}"

WORK=$(mktemp -d -t keepwarm-fuzz.XXXXXX)
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ -z "${FUZZ_KEEP:-}" ]]; then rm -rf "$WORK"; else echo "fuzz: kept $WORK"; fi
}
trap cleanup EXIT

export DJANGO_SETTINGS_MODULE=config.settings.local
export DATABASE_URL=${DATABASE_URL:-sqlite:///${WORK}/fuzz.sqlite3}
# Tasks run in the server process when their transaction commits; mail goes nowhere.
export CELERY_TASK_ALWAYS_EAGER=true
export EMAIL_URL=${EMAIL_URL:-dummymail://}
export LOG_LEVEL=${LOG_LEVEL:-WARNING}
# The fuzzer hammers the token endpoint on purpose; its throttle and lockouts must not stop
# the sign-in below (which happens first) from working.
export AXES_FAILURE_LIMIT=${AXES_FAILURE_LIMIT:-5}

echo "fuzz: database ${DATABASE_URL%%\?*}"
"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py axes_reset >/dev/null 2>&1 || true
"$PY" manage.py seed_demo >/dev/null
export FUZZ_CONFIG="$WORK/schemathesis.toml"
"$PY" manage.py shell -v 0 < scripts/api_fuzz_config.py

"$PY" manage.py runserver "127.0.0.1:${PORT}" --noreload >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 60); do
    if curl -fsS "$BASE/healthz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then echo "fuzz: server died"; cat "$WORK/server.log"; exit 1; fi
    sleep 0.5
done

TOKEN=$(curl -fsS -X POST "$BASE/api/v1/auth/token/" -H 'Content-Type: application/json' \
    -d "{\"username\": \"${FUZZ_USER}\", \"password\": \"${FUZZ_PASSWORD}\"}" \
    | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["token"])')
echo "fuzz: signed in as ${FUZZ_USER}"

set +e
# The schema is for signed-in users only: schemathesis sends --header with the request that
# fetches /api/schema/ as well as with every generated call.
"$ST" --config-file "$FUZZ_CONFIG" run "$BASE/api/schema/" \
    --header "Authorization: Token ${TOKEN}" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "$EXAMPLES" \
    --workers 1 \
    --generation-database none \
    --request-timeout 30 \
    --no-color \
    "$@"
STATUS=$?
set -e

if grep -q "Internal Server Error\|Traceback" "$WORK/server.log"; then
    echo "fuzz: the server logged errors:"
    grep -B2 -A30 "Traceback" "$WORK/server.log" | head -200
    STATUS=${STATUS/#0/1}
fi
echo "fuzz: schemathesis exit status $STATUS"
exit "$STATUS"
