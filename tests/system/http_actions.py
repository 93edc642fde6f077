"""HTTP actions suite: a declarative action (EXECUTOR_ACTIONS_FILE) on the real binaries.

The executor loads `call_api`, which may POST to one prefix of a local receiver (a thread on
127.0.0.1) with an `Authorization` header taken from its environment; the policy is the
default one with a rule in front that allows the engine `call_api` on exactly that prefix
(`url:` resources). Each case checks the answer, the receiver and the audit rows:

- allowed by the policy, signed, executed -> the receiver got one POST with the secret header;
  the audit row keeps status, size and digest, not the body nor the secret;
- a URL outside the policy's prefix -> denied by the policy (no token);
- a token for one URL used for another -> 403 `token_binding`, nothing received;
- URL tricks that pass no allowlist (userinfo, encoded dot segments, decimal IP, a sibling
  prefix) -> 400 before any byte is sent;
- a dry run -> nothing sent, the secret redacted;
- the system invariant (HTTP calls are not cluster mutations).

    python3 tests/system/http_actions.py      # after building the binaries (tests/system/run)
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from harness import ENGINE, Stack, Suite, check, execute_body, post_json  # noqa: E402

SECRET_HEADER = secrets.token_hex(20)


class Receiver:
    """Records every request; answers 201 with a small JSON body."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.seen.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                          "body": body})
                answer = json.dumps({"ticket": len(receiver.seen)}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self.lock:
            return len(self.seen)


def setup(work: Path, port: int) -> tuple:
    prefix = f"http://127.0.0.1:{port}/v1/tickets"
    actions = work / "actions.yaml"
    actions.write_text(f"""actions:
  - name: call_api
    description: the suite's receiver
    method: POST
    urlParam: url
    allow: ["{prefix}"]
    allowPrivate: true
    headers: {{Authorization: "Bearer ${{SUITE_TICKETS_TOKEN}}"}}
    params:
      url: {{type: string, required: true}}
      ticket: {{type: object, required: true}}
    bodyParam: ticket
    timeoutSeconds: 3
""")
    text = (harness.ROOT / "policies" / "default.yaml").read_text()
    rule = f"""
  - id: allow-engine-tickets
    effect: allow
    reason: The engine may file tickets with the suite's receiver
    match:
      actions: [call_api]
      resources: ["url:{prefix}"]
      subjects: {{users: [{ENGINE}]}}
"""
    # Before the default deny-unknown-actions rule could matter: an allow never beats a deny,
    # so the default policy's action list gets call_api too.
    start = text.find("- id: deny-unknown-actions")
    end = text.find("]", text.find("action not in [", start))
    check(start >= 0 and end > start, "deny-unknown-actions' action list is not where it was")
    text = text[:end] + ", call_api" + text[end:]
    policy = work / "policy.yaml"
    policy.write_text(text.replace("\nrules:\n", "\nrules:\n" + rule, 1))
    return prefix, actions, policy


def cases(suite: Suite, s: Stack, receiver: Receiver, prefix: str) -> None:
    def body_for(url: str, decision: dict, dry_run: bool = False) -> bytes:
        extra = {"dryRun": True} if dry_run else {}
        return execute_body("call_api", {"url": url, "ticket": {"title": "disk full"}}, ENGINE,
                            decision, s.secret, **extra)

    def decide(url: str) -> dict:
        return s.evaluate("call_api", f"url:{url}")

    def allowed_call():
        decision = decide(prefix)
        check(decision.get("allowed") is True and decision.get("resource") == f"url:{prefix}",
              f"decision: {decision}")
        answer = s.execute(body_for(prefix, decision))
        check(answer.status == 200, f"answer: {answer}")
        check(answer.json["result"]["status"] == 201, f"answer: {answer}")
        check(receiver.count() == 1, f"{receiver.count()} requests received")
        got = receiver.seen[0]
        check(got["auth"] == f"Bearer {SECRET_HEADER}", "the secret header did not arrive")
        check(json.loads(got["body"]) == {"title": "disk full"}, f"body: {got['body']!r}")
        row = s.row(answer.json["auditId"])
        check(row["status"] == "succeeded" and row["targetKind"] == "url", f"row: {row}")
        check(SECRET_HEADER not in json.dumps(row), "the secret is in the audit row")
        result = json.loads(s.sql(f"SELECT result::text FROM action_audit_logs WHERE id = '{row['id']}'"))
        check(result.get("status") == 201 and "output" not in result,
              f"the audit row's result should hold status, size and digest only: {result}")

    suite.case("an allowed call reaches the endpoint once, with its secret header", allowed_call)

    def policy_denies_another_prefix():
        decision = decide(f"http://127.0.0.1:{receiver.port}/v1/admin")
        check(decision.get("allowed") is False and not decision.get("token"), f"decision: {decision}")

    suite.case("the policy allows only its url: prefix", policy_denies_another_prefix)

    def binding():
        before = receiver.count()
        decision = decide(prefix)
        answer = s.execute(body_for(f"{prefix}/42", decision))
        check(answer.status == 403 and answer.json.get("code") == "token_binding", f"answer: {answer}")
        check(receiver.count() == before, "a request was sent")

    suite.case("a decision for one URL does not call another (403 token_binding)", binding)

    def tricks():
        before = receiver.count()
        decision = decide(prefix)
        port = receiver.port
        for url in (f"http://127.0.0.1:{port}@evil.example/v1/tickets",
                    f"http://127.0.0.1:{port}/v1/tickets/%2e%2e/admin",
                    f"http://2130706433:{port}/v1/tickets",
                    f"http://127.0.0.1:{port}/v1/ticketsX"):
            answer = s.execute(body_for(url, decision))
            check(answer.status == 400 and answer.json.get("field") == "actionParams.url",
                  f"{url}: {answer}")
        check(receiver.count() == before, "a request was sent")

    suite.case("URL tricks are refused before any byte is sent", tricks)

    def dry_run():
        before = receiver.count()
        answer = s.execute(body_for(prefix, decide(prefix), dry_run=True))
        check(answer.status == 200 and answer.json["result"]["headers"]["Authorization"] == "<redacted>",
              f"answer: {answer}")
        check(SECRET_HEADER not in json.dumps(answer.json), "the secret is in the dry-run answer")
        check(receiver.count() == before, "a dry run sent a request")

    suite.case("a dry run sends nothing and redacts the secret", dry_run)

    suite.case("invariant: mutations == succeeded rows, nothing pending, write-ahead, no retries",
               lambda: print(f"     {s.check_invariant()}"))


def main() -> int:
    receiver = Receiver()
    work = harness.LOG_ROOT / "http-actions-files"
    work.mkdir(parents=True, exist_ok=True)
    prefix, actions, policy = setup(work, receiver.port)
    stack = Stack("http-actions", policy_file=policy, executor_env={
        "EXECUTOR_ACTIONS_FILE": str(actions),
        "SUITE_TICKETS_TOKEN": SECRET_HEADER,
    })
    return harness.main(Suite("http-actions"), stack, lambda suite, s: cases(suite, s, receiver, prefix))


if __name__ == "__main__":
    sys.exit(main())
