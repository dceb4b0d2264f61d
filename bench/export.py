"""The export step of `make bench` (issue 17): whole lists as CSV, timed to the last byte, with
the memory of the gunicorn worker that serves them.

Each export is downloaded once, with no filter, as the benchmark's sales manager (who sees every
row), from a fresh gunicorn with one sync worker serving the large (100,000 accounts) database,
so the worker that answers is known: its RSS (`/proc/<pid>/status` VmRSS) is read before the download, sampled
every 20 ms during it and read after it, and its peak (VmHWM, reset through
`/proc/<pid>/clear_refs` just before the download) is read at the end. The client reads the body
as it comes and counts the CSV records (the header aside) with Python's csv reader, so a quoted
line break inside a cell is not counted as a row.

Targets: at least 20,000 rows a second to the last byte, and memory flat: the worker's peak
during the download at most 50 MB above its RSS before it (a list of 100,000 model instances, or
a cursor that fetches every row at once, takes several times that).

drive.py runs it after the pages (`measure`); alone:
    python bench/export.py --database postgres://postgres@127.0.0.1:5432/keepwarm_bench
which signs in as the probe does (bench/probe.py) and prints the report's section.
BENCH_EXPORTS overrides the URLs (comma-separated), e.g. to try the harness on a page that
exists: BENCH_EXPORTS='/insights/risk/?format=csv'.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import io
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.client import HTTPResponse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXPORTS = {
    "/accounts/export.csv": "Accounts export",
    "/contacts/export.csv": "Contacts export",
    "/deals/export.csv": "Deals export",
}
TARGET_ROWS_PER_S = 20_000
FLAT_MB = 50
CHUNK = 64 * 1024


def urls() -> list[str]:
    chosen = os.environ.get("BENCH_EXPORTS", "")
    return [u for u in chosen.split(",") if u] or list(EXPORTS)


def label(url: str) -> str:
    return EXPORTS.get(url, f"Export {url}")


def worker_pid(master: int, timeout: float = 10.0) -> int:
    """The only worker of a one-worker gunicorn (the master's child)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise SystemExit(f"gunicorn {master} has no worker after {timeout:.0f} s")


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS since start or since the last reset), in kB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak(pid: int) -> bool:
    """Resets VmHWM to the current RSS (Linux: `echo 5 > /proc/<pid>/clear_refs`, our own
    process). False when the kernel refuses: the 20 ms samples are the peak then."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect (to the login page) is an answer to report, not one to follow."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class CountingResponse:
    """The response, counting the bytes read (the body's size, whatever its encoding)."""

    def __init__(self, response: HTTPResponse) -> None:
        self.response = response
        self.bytes = 0

    def read1(self, size: int) -> bytes:
        chunk = self.response.read1(size)
        self.bytes += len(chunk)
        return chunk


def lines(response: CountingResponse, first: list[float]) -> Iterator[str]:
    """The body as text lines as they arrive, cut at "\n" only (a record ends "\r\n", and a
    chunk may end between the two); `first` gets the moment of the first bytes."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    while True:
        chunk = response.read1(CHUNK)
        if not chunk:
            break
        if not first:
            first.append(time.perf_counter())
        pending += decoder.decode(chunk)
        cut = pending.rfind("\n") + 1
        if cut:
            yield from io.StringIO(pending[:cut], newline="\n")
            pending = pending[cut:]
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def download(base: str, url: str, headers: dict[str, str], pid: int) -> dict[str, Any]:
    result: dict[str, Any] = {"url": url, "label": label(url)}
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                samples.append(memory_kb(pid)["VmRSS"])
            except (OSError, KeyError):
                return
            stop.wait(0.02)

    before = memory_kb(pid)
    result["hwm_reset"] = reset_peak(pid)
    cpu_before = cpu_s(pid)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(base + url, headers=headers)  # noqa: S310 - http://127.0.0.1 only
    started = time.perf_counter()
    first: list[float] = []
    nbytes = 0
    try:
        with opener.open(request, timeout=600) as response:
            result["http_status"] = response.status
            result["content_type"] = response.headers.get("Content-Type", "")
            counting = CountingResponse(response)
            records = sum(1 for _ in csv.reader(lines(counting, first)))
            nbytes = counting.bytes
    except urllib.error.HTTPError as exc:
        result["http_status"] = exc.code
    finally:
        ended = time.perf_counter()
        stop.set()
        sampler.join()
    if result["http_status"] != 200:
        return result
    time.sleep(0.5)  # what the worker keeps once the response is done
    after = memory_kb(pid)
    peak_kb = max([after["VmHWM"] if result["hwm_reset"] else 0, *samples])
    result.update(
        rows=max(records - 1, 0), bytes=nbytes, first_byte_s=(first[0] - started) if first else None,
        last_byte_s=ended - started, worker_cpu_s=cpu_s(pid) - cpu_before,
        rss_before_mb=before["VmRSS"] / 1024, rss_peak_mb=peak_kb / 1024, rss_after_mb=after["VmRSS"] / 1024,
    )
    result["rows_per_s"] = result["rows"] / result["last_byte_s"] if result["last_byte_s"] else 0.0
    result["growth_mb"] = result["rss_peak_mb"] - result["rss_before_mb"]
    return result


def measure(database_url: str, session: str, *, port: int, start_server: Any) -> dict[str, Any]:
    """Serves `database_url` with one sync worker (`start_server(url, port)` returns drive.py's
    Server), a fresh one per export (a worker keeps the memory it once took, so an export that
    bloated it would hide the next one's growth), and downloads each export; a URL that answers
    404 is reported as not available on this build."""
    headers = {"Cookie": f"sessionid={session}"}
    results = []
    for url in urls():
        server = start_server(database_url, port)
        try:
            pid = worker_pid(server.process.pid)
            # Warm the worker (imports, the URLconf, the session and user reads) before "before".
            opener = urllib.request.build_opener(NoRedirect)
            request = urllib.request.Request(server.url + "/accounts/", headers=headers)  # noqa: S310 - 127.0.0.1
            with opener.open(request, timeout=60) as response:
                response.read()
            log(f"export: {url}")
            result = download(server.url, url, headers, pid)
        finally:
            server.stop()
        if result["http_status"] == 404:
            log(f"export: {url} is not available on this build (HTTP 404); skipped")
        elif result["http_status"] != 200:
            log(f"export: {url} answers HTTP {result['http_status']}")
        else:
            log(f"export: {url} {result['rows']:,} rows in {result['last_byte_s']:.1f} s "
                f"({result['rows_per_s']:,.0f} rows/s); worker RSS {result['rss_before_mb']:.0f} MB before, "
                f"{result['rss_peak_mb']:.0f} MB peak, {result['rss_after_mb']:.0f} MB after")
        results.append(result)
    return {"exports": results}


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def report_lines(export: dict[str, Any], accounts: int) -> list[str]:
    lines_ = [
        f"## Export ({accounts:,} accounts)",
        "",
        "Each list exported whole (no filter) as the sales manager, from a fresh gunicorn with one sync worker "
        "(warmed by one page); time to "
        "the last byte, read and parsed as CSV by the client. Worker RSS before the download, its peak during "
        "it (VmHWM, reset first, and 20 ms samples) and after it.",
        "",
        "| Export | URL | rows | MB | first byte s | last byte s | rows/s | worker RSS before / peak / after MB "
        "| worker CPU s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for r in export["exports"]:
        if r["http_status"] != 200:
            why = "not available on this build" if r["http_status"] == 404 else "not measured"
            lines_.append(f"| {r['label']} | `{r['url']}` | {why} (HTTP {r['http_status']}) | | | | | | |")
            verdicts.append(f"- {r['label']} (`{r['url']}`): {why} (HTTP {r['http_status']}); skipped.")
            continue
        first = "-" if r["first_byte_s"] is None else f"{r['first_byte_s']:.2f}"
        lines_.append(
            f"| {r['label']} | `{r['url']}` | {r['rows']:,} | {r['bytes'] / 1e6:.1f} | {first} "
            f"| {r['last_byte_s']:.2f} | {r['rows_per_s']:,.0f} "
            f"| {r['rss_before_mb']:.0f} / {r['rss_peak_mb']:.0f} / {r['rss_after_mb']:.0f} | {r['worker_cpu_s']:.1f} |"
        )
        fast = r["rows_per_s"] >= TARGET_ROWS_PER_S
        flat = r["growth_mb"] <= FLAT_MB
        verdicts.append(
            f"- {r['label']}: {r['rows_per_s']:,.0f} rows/s ({'met' if fast else 'UNDER'} the "
            f"{TARGET_ROWS_PER_S:,} target); worker peak {r['growth_mb']:+.1f} MB over its RSS before "
            f"({'flat' if flat else 'NOT FLAT'}: at most {FLAT_MB} MB)."
        )
    return [*lines_, "", *verdicts, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True, help="DATABASE_URL of the 100k database")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    import drive

    info = drive.probe_login(args.database)
    export = measure(args.database, info["session"], port=args.port or drive.free_port(),
                     start_server=drive.export_server)
    print("\n".join(report_lines(export, info["accounts"])))
    print(json.dumps(export, default=str), file=sys.stderr)


if __name__ == "__main__":
    main()
