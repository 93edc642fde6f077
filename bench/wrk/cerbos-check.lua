-- wrk script for bench/policy-http: POSTs to Cerbos's /api/check/resources the check
-- equivalent to Warden's seed request (bench/cerbos/policies: ai-engine, role service,
-- restart_pod on pod api-pod-12345 in namespace default, severity high).
--   wrk -t2 -c32 -d20s --latency -s bench/wrk/cerbos-check.lua http://127.0.0.1:3592
wrk.method = "POST"
wrk.path = "/api/check/resources"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"requestId": "bench", "principal": {"id": "ai-engine", "roles": ["service"]}, "resources": [{"actions": ["restart_pod"], "resource": {"kind": "pod", "id": "api-pod-12345", "attr": {"namespace": "default", "severity": "high", "confidence": 0.93, "automated": true}}}]}]]

-- One machine-readable line after wrk's own report (latencies in microseconds).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
