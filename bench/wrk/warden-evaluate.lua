-- wrk script for bench/policy-http: POSTs the seed request of README's walk-through to
-- /api/v1/policy/evaluate (the policy service, and the bare axum handler on the same path).
--   wrk -t2 -c32 -d20s --latency -s bench/wrk/warden-evaluate.lua http://127.0.0.1:3000
wrk.method = "POST"
wrk.path = "/api/v1/policy/evaluate"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"action": "restart_pod", "resource": "pod:api-pod-12345", "type": "self_healing", "context": {"userId": "ai-engine", "role": "service", "metadata": {"severity": "high", "confidence": 0.93, "automated": true}}}]]

-- One machine-readable line after wrk's own report (latencies in microseconds).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
