"""Adversarial suite: forgeries, replays, stretched tokens and body tricks against the
running executor (and a few against the policy service).

Every refused case asserts the HTTP answer (status and machine `code`, as JSON), the audit
row (`rejected` with that reason code, or no row where the refusal happens before the
executor reads the request), and that the fake cluster received no request at all and
the target still exists. The suite ends with the system invariant.

    python3 tests/system/adversarial.py      # after building the binaries (tests/system/run)
"""

from __future__ import annotations

import hashlib
import json
import socket
import sys
import time
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    ENGINE, OPERATOR, Stack, Suite, check, execute_body, http_request, make_jwt, new_ed25519_key,
    parse_raw_answer, post_json, race, raw_exchange, send_outcome, sign, summarize, token_parts,
)

# The slow-body case needs a short answer deadline; everything else is generous.
REQUEST_TIMEOUT = 2
NS = "default"


def refused(stack: Stack, body: bytes, status: int, code, *, targets: tuple = (),
            audited: bool = True, content_type: Optional[str] = "application/json",
            message: Optional[str] = None, extra_headers: Optional[dict] = None) -> dict:
    """Sends `body`, expects a JSON refusal `status`/`code` (a code or a tuple of codes), a
    `rejected` row with that reason (or no new row when not `audited`), no request at the
    fake, and every `(namespace, pod)` in `targets` still there. Returns the answer JSON."""
    seq = stack.last_request_seq()
    rows_before = stack.row_count()
    headers = {**({"Content-Type": content_type} if content_type else {}), **(extra_headers or {})}
    answer = http_request(f"{stack.executor}/executor/execute", "POST", body, headers)
    codes = code if isinstance(code, tuple) else (code,)
    check(answer.headers.get("content-type", "").startswith("application/json"),
          f"answer is not JSON: {answer}")
    payload = answer.json
    check(answer.status == status and payload.get("code") in codes and payload.get("success") is False,
          f"expected {status} {'/'.join(codes)}, got {answer}")
    if message is not None:
        check(message in payload.get("error", ""), f"error {payload.get('error')!r} lacks {message!r}")
    if audited:
        audit_id = payload.get("auditId")
        check(audit_id is not None, f"the refusal was not audited (no auditId; see the executor log): {answer}")
        row = stack.row(audit_id)
        check(row["status"] == "rejected" and row["reasonCode"] == payload["code"],
              f"audit row is {row['status']}/{row['reasonCode']}, expected rejected/{payload['code']}")
        check(stack.row_count() == rows_before + 1, "more than one audit row for one refusal")
    else:
        check(stack.row_count() == rows_before, f"{stack.row_count() - rows_before} audit rows written")
    untouched(stack, seq, targets)
    return payload


def untouched(stack: Stack, seq: int, targets: tuple = ()) -> None:
    calls = stack.requests_since(seq)
    check(not calls, f"the fake cluster was called: {[(c['method'], c['path']) for c in calls]}")
    for namespace, pod in targets:
        check(stack.pod_exists(namespace, pod), f"pod {namespace}/{pod} is gone")


def restart_params(pod: str, namespace: str = NS) -> dict:
    return {"namespace": namespace, "podName": pod}


def with_token(decision: dict, token: str) -> dict:
    return {**decision, "token": token}


def cases(suite: Suite, s: Stack) -> None:
    pods = [f"adv-{i}" for i in range(120)]
    s.seed_pods(NS, pods)
    s.seed_pods("production", ["prod-api", "prod-web"])
    s.seed_pods("staging", ["prod-api", "stage-api"])
    s.seed_pods("kube-system", ["coredns"])
    s.seed_deployment(NS, "adv-deploy", 2)
    pod = iter(pods)

    # -- control: the harness signs correctly, so refusals below are the executor's doing ---

    def control():
        target = next(pod)
        answer = s.execute(s.restart_body(NS, target))
        check(answer.status == 200 and answer.json["success"] is True, f"control request refused: {answer}")
        row = s.wait_final(answer.json["auditId"])
        check(row["status"] == "succeeded", f"control row is {row['status']}")
        check(not s.pod_exists(NS, target), "the control pod still exists")

    suite.case("control: a signed, allowed restart runs (200, succeeded row, pod deleted)", control)

    def dry_run_control():
        target = next(pod)
        seq = s.last_request_seq()
        answer = s.execute(s.restart_body(NS, target, dryRun=True))
        check(answer.status == 200 and answer.json.get("dryRun") is True, f"dry run refused: {answer}")
        row = s.wait_final(answer.json["auditId"])
        check(row["status"] == "succeeded" and row["dryRun"] is True, f"dry-run row {row}")
        calls = s.requests_since(seq)
        check(calls and all(c["dryRun"] for c in calls), f"non-dry-run calls: {calls}")
        check(s.pod_exists(NS, target), "a dry run deleted the pod")

    suite.case("control: dryRun runs server-side only (succeeded dry-run row, pod kept)", dry_run_control)

    # -- forgeries ---------------------------------------------------------------------------

    def wrong_secret():
        target = next(pod)
        decision = s.allowed("restart_pod", f"{NS}/pod/{target}")
        body = execute_body("restart_pod", restart_params(target), ENGINE, decision, "not-" + s.secret)
        refused(s, body, 401, "bad_signature", targets=((NS, target),))

    suite.case("forgery: signed with the wrong secret -> 401 bad_signature", wrong_secret)

    def tampered_params():
        signed_for, sent_for = next(pod), next(pod)
        decision = s.allowed("restart_pod", f"{NS}/pod/{sent_for}")  # the token fits what is sent
        signature = sign("restart_pod", restart_params(signed_for), ENGINE, s.secret)
        body = execute_body("restart_pod", restart_params(sent_for), ENGINE, decision, s.secret, signature)
        refused(s, body, 401, "bad_signature", targets=((NS, signed_for), (NS, sent_for)))

    suite.case("forgery: actionParams changed after signing -> 401 bad_signature", tampered_params)

    def tampered_requester():
        target = next(pod)
        decision = s.allowed("restart_pod", f"{NS}/pod/{target}", OPERATOR)
        signature = sign("restart_pod", restart_params(target), ENGINE, s.secret)
        body = execute_body("restart_pod", restart_params(target), OPERATOR, decision, s.secret, signature)
        refused(s, body, 401, "bad_signature", targets=((NS, target),))

    suite.case("forgery: requestedBy changed after signing -> 401 bad_signature", tampered_requester)

    def malformed_signature():
        target = next(pod)
        decision = s.allowed("restart_pod", f"{NS}/pod/{target}")
        body = execute_body("restart_pod", restart_params(target), ENGINE, decision, s.secret, "zz" * 32)
        refused(s, body, 401, "signature_malformed", targets=((NS, target),))

    suite.case("forgery: signature is not hex -> 401 signature_malformed", malformed_signature)

    def other_action():
        target = next(pod)
        decision = s.allowed("scale_deployment", f"{NS}/pod/{target}")
        body = execute_body("restart_pod", restart_params(target), ENGINE, decision, s.secret)
        refused(s, body, 403, "token_binding", targets=((NS, target),), message="another action")

    suite.case("forgery: token for another action -> 403 token_binding", other_action)

    def other_resource():
        allowed_for, target = next(pod), next(pod)
        decision = s.allowed("restart_pod", f"{NS}/pod/{allowed_for}")
        body = execute_body("restart_pod", restart_params(target), ENGINE, decision, s.secret)
        refused(s, body, 403, "token_binding", targets=((NS, allowed_for), (NS, target)),
                message="another resource")

    suite.case("forgery: token for another resource -> 403 token_binding", other_resource)

    def other_requester():
        target = next(pod)
        decision = s.allowed("restart_pod", f"{NS}/pod/{target}", OPERATOR)
        body = execute_body("restart_pod", restart_params(target), ENGINE, decision, s.secret)
        refused(s, body, 403, "token_binding", targets=((NS, target),), message="another requester")

    suite.case("forgery: token issued to another requester -> 403 token_binding", other_requester)

    def resign(decision: dict, key: Optional[Path] = None, header: Optional[dict] = None, **claims: Any) -> str:
        real_header, real_claims = token_parts(decision["token"])
        return make_jwt({**real_header, **(header or {})}, {**real_claims, **claims}, key_file=key or s.signing_key)

    def expired():
        target = next(pod)
        decision = s.allowed("restart_pod", f"{NS}/pod/{target}")
        now = int(time.time())
        token = resign(decision, iat=now - 300, nbf=now - 300, exp=now - 120)  # the real key
        body = execute_body("restart_pod", restart_params(target), ENGINE, with_token(decision, token), s.secret)
        refused(s, body, 403, "token_expired", targets=((NS, target),))

    suite.case("forgery: expired token (real key, exp 2 minutes ago) -> 403 token_expired", expired)

    other_key = new_ed25519_key(s.dir / "attacker-key.pem")

    def unknown_key():
        target = next(pod)
        decision = s.allowed("restart_pod", f"{NS}/pod/{target}")
        token = resign(decision, key=other_key, header={"kid": "attacker-key"})
        body = execute_body("restart_pod", restart_params(target), ENGINE, with_token(decision, token), s.secret)
        refused(s, body, 403, "token_unknown_key", targets=((NS, target),))

    suite.case("forgery: token signed by another key (its own kid) -> 403 token_unknown_key", unknown_key)

    def other_key_real_kid():
        target = next(pod)
        decision = s.allowed("restart_pod", f"{NS}/pod/{target}")
        token = resign(decision, key=other_key)  # claims the policy service's kid
        body = execute_body("restart_pod", restart_params(target), ENGINE, with_token(decision, token), s.secret)
        refused(s, body, 403, "token_signature", targets=((NS, target),))

    suite.case("forgery: token signed by another key under the real kid -> 403 token_signature",
               other_key_real_kid)

    def alg_none():
        target = next(pod)
        decision = s.allowed("restart_pod", f"{NS}/pod/{target}")
        header, claims = token_parts(decision["token"])
        for forged_header in ({"alg": "none", "typ": "JWT"}, {**header, "alg": "none"}):
            token = make_jwt(forged_header, claims)
            body = execute_body("restart_pod", restart_params(target), ENGINE, with_token(decision, token),
                                s.secret)
            refused(s, body, 403, "token_algorithm", targets=((NS, target),))

    suite.case("forgery: alg none (with and without kid) -> 403 token_algorithm, no key used", alg_none)

    def alg_confusion():
        target = next(pod)
        decision = s.allowed("restart_pod", f"{NS}/pod/{target}")
        header, claims = token_parts(decision["token"])
        jwks = http_request(f"{s.policy_url}/.well-known/jwks.json").json
        public = json.dumps(jwks["keys"][0]).encode()  # what an attacker can read
        token = make_jwt({**header, "alg": "HS256"}, claims, hmac_key=public)
        body = execute_body("restart_pod", restart_params(target), ENGINE, with_token(decision, token), s.secret)
        refused(s, body, 403, "token_algorithm", targets=((NS, target),))

    suite.case("forgery: HS256 keyed with the published JWK (alg confusion) -> 403 token_algorithm",
               alg_confusion)

    def edited_claims():
        allowed_for, target = next(pod), next(pod)
        decision = s.allowed("restart_pod", f"{NS}/pod/{allowed_for}")
        header, payload, signature = decision["token"].split(".")
        claims = token_parts(decision["token"])[1]
        forged = make_jwt({}, {**claims, "res": f"{NS}/pod/{target}"})
        token = f"{header}.{forged.split('.')[1]}.{signature}"
        body = execute_body("restart_pod", restart_params(target), ENGINE, with_token(decision, token), s.secret)
        refused(s, body, 403, "token_signature", targets=((NS, allowed_for), (NS, target)))

    suite.case("forgery: claims edited (res), real signature kept -> 403 token_signature", edited_claims)

    def missing_token():
        target = next(pod)
        decision = s.allowed("restart_pod", f"{NS}/pod/{target}")
        decision.pop("token")
        body = execute_body("restart_pod", restart_params(target), ENGINE, decision, s.secret)
        refused(s, body, 403, "token_missing", targets=((NS, target),))

    suite.case("forgery: missing token -> 403 token_missing", missing_token)

    def flipped_denial():
        target = next(pod)
        decision = s.evaluate("restart_pod", f"{NS}/pod/{target}", severity="low")
        check(decision["allowed"] is False and "token" not in decision, f"expected a denial: {decision}")
        forged = {**decision, "allowed": True, "decision": "allow"}
        body = execute_body("restart_pod", restart_params(target), ENGINE, forged, s.secret)
        refused(s, body, 403, "token_missing", targets=((NS, target),))

    suite.case("forgery: a denial with allowed flipped to true -> 403 token_missing", flipped_denial)

    def not_allowed():
        target = next(pod)
        decision = s.allowed("restart_pod", f"{NS}/pod/{target}")
        body = execute_body("restart_pod", restart_params(target), ENGINE, {**decision, "allowed": False},
                            s.secret)
        refused(s, body, 403, "decision_not_allowed", targets=((NS, target),))

    suite.case("forgery: a real token with allowed: false -> 403 decision_not_allowed", not_allowed)

    def swapped_decision_id():
        target = next(pod)
        decision = s.allowed("restart_pod", f"{NS}/pod/{target}")
        other = s.allowed("restart_pod", f"{NS}/pod/{target}")
        body = execute_body("restart_pod", restart_params(target), ENGINE,
                            {**decision, "decisionId": other["decisionId"]}, s.secret)
        refused(s, body, 403, "token_binding", targets=((NS, target),))

    suite.case("forgery: decisionId differs from the token's jti -> 403 token_binding", swapped_decision_id)

    def protected_namespace():
        decision = s.evaluate("restart_pod", "kube-system/pod/coredns")
        check(decision["allowed"] is False, f"the policy allowed kube-system: {decision}")
        # A policy gone wrong: a token for kube-system signed with the real key.
        template = s.allowed("restart_pod", f"{NS}/pod/{next(pod)}")
        token = resign(template, res="kube-system/pod/coredns")
        body = execute_body("restart_pod", restart_params("coredns", "kube-system"), ENGINE,
                            with_token(template, token), s.secret)
        refused(s, body, 403, "protected_namespace", targets=(("kube-system", "coredns"),))

    suite.case("guardrail: a real-key token for kube-system -> 403 protected_namespace", protected_namespace)

    # -- replays -----------------------------------------------------------------------------

    def replay():
        target = next(pod)
        body = s.restart_body(NS, target)
        first = s.execute(body)
        check(first.status == 200, f"first use refused: {first}")
        s.wait_final(first.json["auditId"])
        seq = s.last_request_seq()
        again = s.execute(body)
        check(again.status == 409 and again.json["code"] == "replay", f"expected 409 replay, got {again}")
        check(again.json["auditId"] == first.json["auditId"], "the replay answer does not name the first attempt")
        decision_id = s.row(first.json["auditId"])["decisionId"]
        rows = s.rows(f"\"decisionId\" = '{decision_id}'")
        check([r["status"] for r in rows] == ["succeeded", "rejected"] and rows[1]["reasonCode"] == "replay",
              f"rows for the decision: {[(r['status'], r['reasonCode']) for r in rows]}")
        untouched(s, seq)
        deletes = [m for m in s.mutations() if m["name"] == target]
        check(len(deletes) == 1, f"{len(deletes)} mutations of {target}")

    suite.case("replay: the same request again -> 409 replay naming the first auditId", replay)

    def parallel_replay():
        target = next(pod)
        body = s.restart_body(NS, target)
        copies = 24
        outcomes = race([lambda: send_outcome(f"{s.executor}/executor/execute", body) for _ in range(copies)],
                        copies)
        ok = [o for o in outcomes if o.status == 200]
        replays = [o for o in outcomes if o.status == 409 and o.code == "replay"]
        check(len(ok) == 1 and len(replays) == copies - 1, f"answers: {summarize(outcomes)}")
        check(all(o.audit_id == ok[0].audit_id for o in replays), "a replay names another attempt")
        s.wait_final(ok[0].audit_id)
        decision_id = s.row(ok[0].audit_id)["decisionId"]
        rows = s.rows(f"\"decisionId\" = '{decision_id}'")
        statuses = sorted((r["status"], r["reasonCode"] or "") for r in rows)
        check(statuses == [("rejected", "replay")] * (copies - 1) + [("succeeded", "")], f"rows: {statuses}")
        deletes = [r for r in s.fake_requests() if r["method"] == "DELETE" and r["path"].endswith(f"/{target}")]
        check(len(deletes) == 1, f"{len(deletes)} DELETEs reached the fake")

    suite.case("replay: 24 copies of one decision on 24 connections at once -> exactly one runs",
               parallel_replay)

    # -- tokens stretched to another namespace -------------------------------------------------

    def stretched(resource: str, namespace: str, target: str):
        def run():
            decision = s.allowed("restart_pod", resource)
            body = execute_body("restart_pod", restart_params(target, namespace), ENGINE, decision, s.secret)
            refused(s, body, 403, "token_binding", targets=((namespace, target),), message="another resource")
        return run

    suite.case("stretch: production/pod/prod-api used in staging -> 403 token_binding",
               stretched("production/pod/prod-api", "staging", "prod-api"))
    suite.case("stretch: pod:prod-api (default namespace) used in production -> 403 token_binding",
               stretched("pod:prod-api", "production", "prod-api"))
    suite.case("stretch: namespace-wide production:resource used in staging -> 403 token_binding",
               stretched("production:resource", "staging", "stage-api"))

    def namespace_wide_control():
        decision = s.allowed("restart_pod", "production:resource")
        body = execute_body("restart_pod", restart_params("prod-web", "production"), ENGINE, decision, s.secret)
        answer = s.execute(body)
        check(answer.status == 200, f"a namespace-wide token did not cover its namespace: {answer}")
        check(not s.pod_exists("production", "prod-web"), "production/prod-web still exists")

    suite.case("stretch control: production:resource covers production/prod-web (200)", namespace_wide_control)

    # -- header and body tricks -------------------------------------------------------------------

    def valid_parts(target: str) -> tuple[dict, dict, str]:
        decision = s.allowed("restart_pod", f"{NS}/pod/{target}")
        params = restart_params(target)
        return decision, params, sign("restart_pod", params, ENGINE, s.secret)

    def duplicate_top():
        signed_for, smuggled = next(pod), next(pod)
        decision, params, signature = valid_parts(signed_for)
        body = ('{"actionType": "restart_pod", "actionParams": %s, "requestedBy": "ai-engine", '
                '"policyDecision": %s, "signature": "%s", "actionParams": %s}'
                % (json.dumps(params), json.dumps(decision), signature,
                   json.dumps(restart_params(smuggled)))).encode()
        refused(s, body, 401, "bad_signature", targets=((NS, signed_for), (NS, smuggled)),
                message="duplicate key")

    suite.case("body: actionParams twice (signed one first) -> refused, nothing runs", duplicate_top)

    def duplicate_nested():
        signed_for, smuggled = next(pod), next(pod)
        decision, params, signature = valid_parts(signed_for)
        nested = '{"namespace": "default", "podName": "%s", "podName": "%s"}' % (signed_for, smuggled)
        body = ('{"actionType": "restart_pod", "actionParams": %s, "requestedBy": "ai-engine", '
                '"policyDecision": %s, "signature": "%s"}' % (nested, json.dumps(decision), signature)).encode()
        refused(s, body, 401, "bad_signature", targets=((NS, signed_for), (NS, smuggled)),
                message="duplicate key")

    suite.case("body: podName twice inside actionParams -> refused, nothing runs", duplicate_nested)

    def scale_body(replicas_json: str) -> bytes:
        decision = s.allowed("scale_deployment", f"{NS}/deployment/adv-deploy")
        params = '{"namespace": "default", "deploymentName": "adv-deploy", "replicas": %s}' % replicas_json
        return ('{"actionType": "scale_deployment", "actionParams": %s, "requestedBy": "ai-engine", '
                '"policyDecision": %s, "signature": "%s"}' % (params, json.dumps(decision), "0" * 64)).encode()

    for lexeme, code in (("1e400", "invalid_json"), ("18446744073709551616", "invalid_params"),
                         ("99999999999999999999999999999999999999", "invalid_params"),
                         ("2147483648", "invalid_params"), ("-1", "invalid_params"), ("3.5", "invalid_params"),
                         ('"3"', "invalid_params"), ("51", "invalid_params")):
        def huge(lexeme=lexeme, code=code):
            refused(s, scale_body(lexeme), 400, code)
            check(s.replicas(NS, "adv-deploy") == 2, "adv-deploy was scaled")

        suite.case(f"body: replicas {lexeme} -> 400 {code}", huge)

    def deep(where: str, depth: int):
        def run():
            target = next(pod)
            decision, params, signature = valid_parts(target)
            nest = "[" * depth + "]" * depth
            if where == "actionParams":
                inner = json.dumps({**params, "x": 0}).replace("0}", nest + "}")
                body = ('{"actionType": "restart_pod", "actionParams": %s, "requestedBy": "ai-engine", '
                        '"policyDecision": %s, "signature": "%s"}' % (inner, json.dumps(decision), signature))
            else:
                body = ('{"actionType": "restart_pod", "actionParams": %s, "requestedBy": "ai-engine", '
                        '"policyDecision": %s, "signature": "%s", "extra": %s}'
                        % (json.dumps(params), json.dumps(decision), signature, nest))
            refused(s, body.encode(), 400, "invalid_json", targets=((NS, target),), message="nested")
        return run

    suite.case("body: 30 000 nested arrays in actionParams -> 400 invalid_json", deep("actionParams", 30_000))
    suite.case("body: 65 nested arrays beside the signed members -> 400 invalid_json", deep("extra", 65))

    def invalid_utf8():
        target = next(pod)
        decision, params, signature = valid_parts(target)
        body = ('{"actionType": "restart_pod", "actionParams": {"namespace": "default", "podName": "%s\udcff"}, '
                '"requestedBy": "ai-engine", "policyDecision": %s, "signature": "%s"}'
                % (target, json.dumps(decision), signature)).encode("utf-8", "surrogateescape")
        refused(s, body, 400, "invalid_json", targets=((NS, target),))

    suite.case("body: invalid UTF-8 byte in podName -> 400 invalid_json", invalid_utf8)

    def nul_in_decision():
        target = next(pod)
        decision = {**s.allowed("restart_pod", f"{NS}/pod/{target}"), "note": "a\u0000b"}
        answer = s.execute(execute_body("restart_pod", restart_params(target), ENGINE, decision, s.secret))
        # Unsigned, unverified, but stored in the audit row: it must not turn into a 5xx.
        check(answer.status == 200, f"expected the action to run (Postgres text/jsonb cannot hold U+0000: "
                                    f"the store must replace it, not fail), got {answer}")
        check(s.wait_final(answer.json["auditId"])["status"] == "succeeded", "row not succeeded")

    suite.case("body: U+0000 in an unsigned policyDecision field -> runs and is audited (no 5xx)",
               nul_in_decision)

    def lone_surrogate():
        target = next(pod)
        decision, _, _ = valid_parts(target)
        params = {"namespace": "default", "podName": target + "\ud800"}
        body = execute_body("restart_pod", params, ENGINE, decision, s.secret)  # json.dumps: "\\ud800"
        refused(s, body, 400, ("invalid_json", "invalid_params"), targets=((NS, target),))

    suite.case("body: lone surrogate \\ud800 in podName -> 400", lone_surrogate)

    def big_body(chunked: bool):
        def run():
            seq, rows = s.last_request_seq(), s.row_count()
            big = b'{"actionType": "restart_pod", "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
            head = (b"POST /executor/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n")
            if chunked:
                chunks = b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + 65536]), big[i:i + 65536])
                                  for i in range(0, len(big), 65536))
                data = head + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
            else:
                data = head + b"Content-Length: %d\r\n\r\n" % len(big) + big
            raw, elapsed = raw_exchange("127.0.0.1", s.executor_ports[0], data, timeout=15)
            status, payload = parse_raw_answer(raw)
            check(status == 413 and payload and payload.get("code") == "payload_too_large",
                  f"expected 413 payload_too_large, got {raw[:300]!r}")
            check(elapsed < 10, f"took {elapsed:.1f}s")
            row = s.row(payload["auditId"])
            check(row["status"] == "rejected" and row["reasonCode"] == "payload_too_large", f"row {row}")
            check(s.row_count() == rows + 1, "unexpected audit rows")
            untouched(s, seq)
        return run

    suite.case("body: 10 MB with Content-Length -> 413 payload_too_large", big_body(False))
    suite.case("body: 10 MB chunked -> 413 payload_too_large", big_body(True))

    def slow_body():
        target = next(pod)
        body = s.restart_body(NS, target)
        seq, rows = s.last_request_seq(), s.row_count()
        sock = socket.create_connection(("127.0.0.1", s.executor_ports[0]), timeout=5)
        began = time.monotonic()
        sock.sendall(b"POST /executor/execute HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        received, sent = b"", 0
        try:
            while time.monotonic() - began < 15 and sent < len(body):
                try:
                    sock.sendall(body[sent:sent + 1])  # one byte a second
                    sent += 1
                except OSError:
                    break
                sock.settimeout(1.0)
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    continue
                received += chunk
                if not chunk or b"\r\n\r\n" in received:
                    break
            sock.settimeout(2.0)
            try:
                while b"\r\n\r\n" in received and not received.endswith(b"}"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    received += chunk
            except OSError:
                pass
        finally:
            sock.close()
        elapsed = time.monotonic() - began
        status, payload = parse_raw_answer(received)
        check(status == 408 and payload and payload.get("code") == "timeout",
              f"expected 408 timeout, got {received[:300]!r} after {elapsed:.1f}s ({sent} bytes sent)")
        check(elapsed < REQUEST_TIMEOUT + 3, f"cut off only after {elapsed:.1f}s")
        audit_id = payload.get("auditId")
        check(audit_id is not None, f"the timed-out read was not audited: {payload}")
        row = s.row(audit_id)
        check(row["status"] == "rejected" and row["reasonCode"] == "timeout" and row["clientIp"] == "127.0.0.1",
              f"audit row of the stalled body: {row['status']}/{row['reasonCode']} from {row['clientIp']}")
        check(s.row_count() == rows + 1, "a timed-out read wrote more than one audit row")
        untouched(s, seq, ((NS, target),))

    suite.case(f"body: slow-loris body at 1 byte/s -> 408 within {REQUEST_TIMEOUT}s deadline, audited, nothing runs",
               slow_body)

    def request_id(label: str, raw_header: bytes, kept: Optional[str]):
        def run():
            body = b"{}"
            head = (b"POST /executor/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                    b"Content-Type: application/json\r\n" + raw_header +
                    b"Content-Length: %d\r\n\r\n" % len(body))
            rows = s.row_count()
            raw, _ = raw_exchange("127.0.0.1", s.executor_ports[0], head + body)
            status, payload = parse_raw_answer(raw)
            head_text = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
            echoed = next((line.split(":", 1)[1].strip() for line in head_text.split("\r\n")
                           if line.startswith("x-request-id:")), None)
            check(status == 400 and payload.get("code") == "invalid_request", f"{raw[:300]!r}")
            row = s.row(payload["auditId"])
            check(row["requestId"] == echoed, f"row has {str(row['requestId'])[:40]!r}, answer {echoed!r}")
            if kept is None:
                check("x-request-id-replaced: true" in head_text, "the replacement is not said")
                check(echoed is not None and len(echoed) == 36, f"not a generated id: {echoed!r}")
            else:
                check(echoed == kept.lower(), f"kept id changed: {echoed!r}")
            check(s.row_count() == rows + 1, "not one row for one refusal")
        suite.case(f"headers: X-Request-Id {label}", run)

    request_id("of 64 KiB -> replaced, never stored or echoed", b"X-Request-Id: " + b"r" * 65536 + b"\r\n", None)
    request_id("with a byte that is not UTF-8 -> replaced, answer and row agree",
               b"X-Request-Id: abc\xffdef\r\n", None)
    request_id("sent twice -> replaced", b"X-Request-Id: one\r\nX-Request-Id: two\r\n", None)
    request_id("short and plain -> kept in answer and row", b"X-Request-Id: incident-7\r\n", "incident-7")

    def naive_request():
        body = json.dumps({"actionType": "restart_pod", "actionParams": {"namespace": NS, "podName": "adv-1"},
                           "requestedBy": ENGINE}).encode()
        payload = refused(s, body, 400, "invalid_request", message="missing fields: policyDecision, signature")
        check("POST /api/v1/policy/evaluate" in payload["error"], f"no pointer to the policy service: {payload}")

    suite.case("body: no policyDecision nor signature -> 400 invalid_request naming both", naive_request)

    def unknown_action_lists_known():
        payload = refused(s, execute_body("restart_pods", {}, ENGINE, {}, "x"), 400, "unknown_action")
        listed = payload["error"].split("known actions: ", 1)[-1].split(", ")
        check("restart_pod" in listed and "scale_deployment" in listed, f"known actions not listed: {payload}")

    suite.case("body: a misspelled actionType -> 400 unknown_action listing the known actions",
               unknown_action_lists_known)

    def slow_headers_do_not_starve():
        socks = []
        try:
            for _ in range(50):
                conn = socket.create_connection(("127.0.0.1", s.executor_ports[0]), timeout=5)
                conn.sendall(b"POST /executor/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                socks.append(conn)
            target = next(pod)
            answer = s.execute(s.restart_body(NS, target), timeout=5)
            check(answer.status == 200, f"a normal request failed beside 50 slow ones: {answer}")
        finally:
            for conn in socks:
                conn.close()

    suite.case("headers: 50 connections stuck in their headers do not starve a normal request",
               slow_headers_do_not_starve)

    def content_type(value: Optional[str]):
        def run():
            target = next(pod)
            refused(s, s.restart_body(NS, target), 415, "unsupported_media_type", targets=((NS, target),),
                    content_type=value)
        return run

    for value in (None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                  "application/jsonx", "text/json"):
        suite.case(f"headers: Content-Type {value or '(none)'} -> 415", content_type(value))

    def shapes(label: str, body: bytes, code: str):
        suite.case(f"body: {label} -> 400 {code}", lambda: refused(s, body, 400, code))

    shapes("empty", b"", "invalid_json")
    shapes("a JSON array", b"[]", "invalid_json")
    shapes("a JSON string", b'"restart_pod"', "invalid_json")
    shapes("JSON with trailing garbage", b'{"actionType": "restart_pod"} {}', "invalid_json")
    shapes("a byte order mark", b'\xef\xbb\xbf{"actionType": "restart_pod"}', "invalid_json")
    shapes("NaN", b'{"actionType": "scale_deployment", "actionParams": {"replicas": NaN}}', "invalid_json")
    shapes("an unknown actionType", execute_body("drop_database", {}, ENGINE, {}, "x"), "unknown_action")

    def params_case(label: str, params: Any, code: str = "invalid_params"):
        def run():
            target = next(pod)
            decision = s.allowed("restart_pod", f"{NS}/pod/{target}")
            refused(s, execute_body("restart_pod", params, ENGINE, decision, s.secret), 400, code,
                    targets=((NS, target),))
        suite.case(f"params: {label} -> 400 {code}", run)

    params_case("an unknown field", {"namespace": NS, "podName": "adv-39", "gracePeriodSeconds": 0})
    params_case("podName a number", {"namespace": NS, "podName": 12345})
    params_case("podName null", {"namespace": NS, "podName": None})
    params_case("namespace missing", {"podName": "adv-39"})
    params_case("actionParams an array", [NS, "adv-39"])
    invalid_names = ["API-Pod", "pod_name", "-leading", "trailing-", "a" * 254, "", "pod name", "../../etc",
                     "pod/evil", "pod%2Fevil", "p\u00f6d", "pod\u0000x", "a..b", "a.-b", ".", "pod\n"]
    for name in invalid_names:
        params_case(f"podName {json.dumps(name)[:40]}", {"namespace": NS, "podName": name})
    for namespace in ("Production", "a" * 64, "kube-system/x", "", "prod.ns", "*"):
        params_case(f"namespace {json.dumps(namespace)[:40]}", {"namespace": namespace, "podName": "adv-39"})

    def wrong_method():
        answer = http_request(f"{s.executor}/executor/execute", "GET")
        check(answer.status == 405 and answer.json.get("code") == "method_not_allowed", f"{answer}")

    suite.case("method: GET /executor/execute -> 405 JSON", wrong_method)

    # -- the policy service answers bad input with JSON 4xx as well ------------------------------

    def policy(label: str, body: bytes, status: int, content_type: Optional[str] = "application/json"):
        def run():
            # Raw, so that an early answer (413 before the body is read) is read, not a broken pipe.
            port = int(s.policy_url.rsplit(":", 1)[1])
            head = b"POST /api/v1/policy/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            if content_type:
                head += b"Content-Type: %s\r\n" % content_type.encode()
            raw, _ = raw_exchange("127.0.0.1", port, head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            got, payload = parse_raw_answer(raw)
            check(got == status and isinstance(payload, dict) and "code" in payload,
                  f"expected {status} JSON, got {raw[:300]!r}")
        suite.case(f"policy: {label} -> {status}", run)

    policy("malformed JSON", b'{"action": ', 400)
    policy("duplicate keys", b'{"action": "restart_pod", "resource": "default/pod/a", "action": "x"}', 400)
    policy("10 MB body", b'{"action": "' + b"x" * (10 * 1024 * 1024) + b'"}', 413)
    policy("deep nesting (10 000 levels)", b'{"action": "restart_pod", "resource": "default/pod/a", "context": '
           + b"[" * 10_000 + b"]" * 10_000 + b"}", 400)
    policy("Content-Type text/plain", b'{"action": "restart_pod", "resource": "default/pod/a"}', 415, "text/plain")
    policy("invalid UTF-8", b'{"action": "restart_pod", "resource": "default/pod/\xff"}', 400)

    startup_refusal_cases(suite, s)
    params_binding_cases(suite, s)
    read_cases(suite, s)

    # -- at the end ---------------------------------------------------------------------------

    suite.case("invariant: mutations == succeeded rows, nothing pending, write-ahead, no retries",
               lambda: print(f"     {s.check_invariant()}"))


def startup_refusal_cases(suite: Suite, s: Stack) -> None:
    """Settings that would silently protect nothing: the executor refuses to start."""

    def capitals_protect_nothing():
        import subprocess
        env = {"PATH": "/usr/bin:/bin", "HOME": str(s.dir), "NO_COLOR": "1",
               "EXECUTOR_BIND": "127.0.0.1:0", "DATABASE_URL": s.db_url, "POLICY_URL": s.policy_url,
               "KUBECONFIG": str(s.kubeconfig), "JWT_SECRET": s.secret,
               "EXECUTOR_PROTECTED_NAMESPACES": "KUBE-SYSTEM"}
        done = subprocess.run([str(s.bin / "executor-service")], env=env, cwd=s.dir, capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=30)
        last = (done.stderr.decode(errors="replace").strip().splitlines() or [""])[-1]
        check(done.returncode == 2, f"exit {done.returncode}, expected 2: {last}")
        check("EXECUTOR_PROTECTED_NAMESPACES" in last and "`KUBE-SYSTEM` is not a namespace name" in last,
              f"refusal does not name the variable and entry: {last}")

    suite.case("start-up: EXECUTOR_PROTECTED_NAMESPACES=KUBE-SYSTEM -> refused, naming the entry",
               capitals_protect_nothing)


def params_binding_cases(suite: Suite, s: Stack) -> None:
    """A decision evaluated with `params` binds them: other `actionParams` are 403
    `token_binding`, audited, and nothing reaches the cluster; the same params run."""
    s.seed_deployment(NS, "adv-params", 3)
    s.seed_pods(NS, ["adv-params-a", "adv-params-b"])

    def evaluate(action: str, resource: str, params: dict) -> dict:
        answer = post_json(f"{s.policy_url}/api/v1/policy/evaluate", {
            "action": action, "resource": resource, "type": "self_healing",
            "context": {"userId": ENGINE, "metadata": {"severity": "high", "confidence": 0.93}},
            "params": params,
        })
        check(answer.status == 200, f"evaluate {action} {resource}: {answer}")
        return answer.json

    def scale(replicas: int) -> dict:
        return {"namespace": NS, "deploymentName": "adv-params", "replicas": replicas}

    def asked_three_ran_zero():
        decision = evaluate("scale_deployment", f"{NS}/deployment/adv-params", scale(3))
        check(decision.get("allowed") is True and decision.get("token"), f"not allowed: {decision}")
        refused(s, execute_body("scale_deployment", scale(0), ENGINE, decision, s.secret), 403,
                "token_binding", message="other parameters")
        check(s.replicas(NS, "adv-params") == 3, "adv-params was scaled")

    suite.case("params: decision for replicas 3, execute with 0 -> 403 token_binding, nothing mutated",
               asked_three_ran_zero)

    def other_pod_in_a_namespace_wide_decision():
        # The resource binding alone would let `default:resource` restart any pod in it.
        decision = evaluate("restart_pod", f"{NS}:resource", restart_params("adv-params-a"))
        check(decision.get("allowed") is True, f"not allowed: {decision}")
        refused(s, execute_body("restart_pod", restart_params("adv-params-b"), ENGINE, decision, s.secret),
                403, "token_binding", targets=((NS, "adv-params-a"), (NS, "adv-params-b")))

    suite.case("params: namespace-wide decision for pod a, execute on pod b -> 403 token_binding",
               other_pod_in_a_namespace_wide_decision)

    def zero_needs_approval():
        decision = evaluate("scale_deployment", f"{NS}/deployment/adv-params", scale(0))
        check(decision.get("decision") == "require_approval" and decision.get("approval") is not None,
              f"scaling to zero was not sent for approval: {decision}")

    suite.case("params: scaling to zero with params -> require_approval", zero_needs_approval)

    def same_params_run():
        decision = evaluate("scale_deployment", f"{NS}/deployment/adv-params", scale(4))
        answer = s.execute(execute_body("scale_deployment", scale(4), ENGINE, decision, s.secret))
        check(answer.status == 200 and answer.json["success"] is True, f"refused: {answer}")
        check(s.wait_final(answer.json["auditId"])["status"] == "succeeded", "row not succeeded")
        check(s.replicas(NS, "adv-params") == 4, "adv-params was not scaled to 4")

    suite.case("params: control, execute with the params evaluated -> 200, scaled", same_params_run)


def read_cases(suite: Suite, s: Stack) -> None:
    """The read-only actions through the whole stack: the answer carries what was read, the
    audit row only its size and SHA-256; their binding and the system namespaces hold as
    for a write, and a read sends nothing that mutates."""
    s.seed_pods(NS, ["adv-read"])
    seeded = post_json(f"{s.fake_url}/_fake/logs", {"namespace": NS, "pod": "adv-read", "container": "app",
                                                     "text": "token=adv-s3cr3t\nready\n"})
    check(seeded.status == 204, f"seeding the log failed: {seeded}")
    logs = {"namespace": NS, "podName": "adv-read"}

    def logs_answered_and_audited_by_hash():
        seq = s.last_request_seq()
        decision = s.allowed("get_pod_logs", f"{NS}/pod/adv-read")
        answer = s.execute(execute_body("get_pod_logs", logs, ENGINE, decision, s.secret))
        check(answer.status == 200 and answer.json["success"] is True, f"refused: {answer}")
        text = answer.json["result"]["text"]
        check(text == "token=adv-s3cr3t\nready\n", f"answered {text!r}")
        audit_id = answer.json["auditId"]
        check(s.wait_final(audit_id)["status"] == "succeeded", "row not succeeded")
        kept = json.loads(s.sql(f"SELECT result::text FROM action_audit_logs WHERE id = '{audit_id}'"))
        check(kept.get("sha256") == hashlib.sha256(text.encode()).hexdigest() and kept.get("bytes") == len(text),
              f"audit row does not keep the size and hash: {kept}")
        check("adv-s3cr3t" not in json.dumps(kept), f"audit row keeps the content: {kept}")
        sent = s.requests_since(seq)
        check([r["method"] for r in sent] == ["GET"], f"the read sent {sent}")

    suite.case("reads: get_pod_logs -> 200 with the text, audit row with size and SHA-256 only",
               logs_answered_and_audited_by_hash)

    def events_of_the_namespace_need_a_namespace_decision():
        decision = s.allowed("list_events", f"{NS}/pod/adv-read")
        refused(s, execute_body("list_events", {"namespace": NS}, ENGINE, decision, s.secret), 403,
                "token_binding", message="another resource")

    suite.case("reads: decision for one pod's events, list the namespace's -> 403 token_binding",
               events_of_the_namespace_need_a_namespace_decision)

    def no_reads_in_system_namespaces():
        decision = s.evaluate("get_pod_logs", "kube-system/pod/coredns-1")
        check(decision.get("allowed") is False and decision.get("matchedRule") == "deny-system-namespaces",
              f"kube-system logs not denied: {decision}")

    suite.case("reads: get_pod_logs in kube-system -> denied by deny-system-namespaces",
               no_reads_in_system_namespaces)


def main() -> int:
    stack = Stack("adversarial", executor_env={"EXECUTOR_REQUEST_TIMEOUT_SECONDS": str(REQUEST_TIMEOUT),
                                                "EXECUTOR_KUBE_TIMEOUT_SECONDS": "5"})
    import harness

    return harness.main(Suite("adversarial"), stack, cases)


if __name__ == "__main__":
    sys.exit(main())
