-- Prints one machine-readable line when wrk finishes: latency percentiles (wrk measures in
-- microseconds), requests, duration, and the errors wrk counts (status >= 400, socket errors).
done = function(summary, latency, requests)
  local socket = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    'WRK_RESULT {"p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, "requests": %d, "duration_s": %.3f, ' ..
    '"status_errors": %d, "socket_errors": %d}\n',
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.duration / 1e6, summary.errors.status, socket))
end
