-- wrk prints no 95th percentile; this prints it, with the request and error
-- counts, on one line that bench/run.py parses.
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p95_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(95.0),
    errors.connect + errors.read + errors.write + errors.status + errors.timeout
  ))
end
