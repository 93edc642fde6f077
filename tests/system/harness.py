"""System test harness: Warden's real binaries as processes on 127.0.0.1.

A `Stack` is the fake Kubernetes API server (`fake-kube`), the policy service (development
mode, a fresh Ed25519 signing key) and one or more executors on a fresh Postgres database,
each on a free port, with its log in `target/system-tests/<suite>/`. The suites
(`adversarial.py`, `faults.py`, `scale_out.py`, `approvals.py`) drive it over HTTP and check three things
for every case: the HTTP answer, the audit row, and what the fake cluster saw.

Only the Python standard library is used (HTTP with `http.client`, raw sockets for the
tricks a client library would not send, `psql` for the database, `openssl` for forged
Ed25519 tokens), so the suites need nothing installed beyond what CI already has.

The processes are started by `scripts/lib/stack.py` (the one starter; `Stack` here adds
what the suites need to drive and inspect it); signatures come from the Python example's
client (`examples/python/warden_client.py`), and the invariant from `scripts/lib/invariant.py`.

Evidence for "pending, then final": the harness adds a trigger to the suite's database
(after the executor's migrations) that appends every status an audit row takes to
`system_test_status_history`. The invariant (`Stack.check_invariant`, see
`scripts/lib/invariant.py`) then holds the executor to its write-ahead contract: nothing
left `pending`; mutations at the fake == `succeeded` non-dry-run rows of writes, target by
target (or `unknown` ones where a case allows that); every row of a mutated target went
`pending` first; nothing was retried.

Processes are started with PR_SET_PDEATHSIG, so they die with the harness even when it is
killed; `Stack.stop` ends them and drops the database.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "scripts" / "lib"), str(ROOT / "examples" / "python")]

import invariant  # noqa: E402
import stack as stack_lib  # noqa: E402
from stack import psql  # noqa: E402
from warden_client import sign  # noqa: E402 - the one signer, the example client's

BIN = Path(os.environ.get("WARDEN_BIN_DIR", ROOT / "target" / "debug"))
BASE_DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
LOG_ROOT = ROOT / "target" / "system-tests"

# The requester the default policy knows as a service (role `service`), and an operator.
ENGINE = "ai-engine"
OPERATOR = "ops"


# ---------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------


class Suite:
    """Runs named cases, prints one line per case and the closing `N passed, N failed`."""

    def __init__(self, name: str):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.started = time.monotonic()
        self.on_failure: list[Callable[[], None]] = []

    def case(self, name: str, body: Callable[[], Any]) -> bool:
        began = time.monotonic()
        try:
            body()
        except Exception as err:  # noqa: BLE001 - a case fails on anything it raises
            self.failed += 1
            detail = str(err) if isinstance(err, AssertionError) else traceback.format_exc()
            print(f"FAIL {name} ({time.monotonic() - began:.1f}s)\n     {detail.strip()}", flush=True)
            return False
        self.passed += 1
        print(f"ok   {name} ({time.monotonic() - began:.1f}s)", flush=True)
        return True

    def finish(self) -> int:
        if self.failed:
            for hook in self.on_failure:
                try:
                    hook()
                except Exception:  # noqa: BLE001 - diagnostics only
                    pass
        print(f"({self.name} took {time.monotonic() - self.started:.0f}s)", flush=True)
        print(f"{self.name}: {self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


def check(condition: bool, message: str) -> None:
    """An assertion that survives `python -O`."""
    if not condition:
        raise AssertionError(message)


def wait_until(what: str, predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    """Polls `predicate` until it returns something truthy; fails naming `what`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
        except Exception as err:  # noqa: BLE001 - keep polling; report the last error
            last = err
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict
    raw: bytes
    elapsed: float

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.raw)
        except ValueError as err:
            raise AssertionError(f"answer {self.status} is not JSON: {self.raw[:300]!r}") from err

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.raw[:400]!r})"


def http_request(url: str, method: str = "GET", body: Optional[bytes] = None,
                 headers: Optional[dict] = None, timeout: float = 15.0) -> Answer:
    """One request on a fresh connection (so parallel callers never share one)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    began = time.monotonic()
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path or "/", body=body, headers=headers or {})
        answer = conn.getresponse()
        raw = answer.read()
        return Answer(answer.status, {k.lower(): v for k, v in answer.getheaders()}, raw,
                      time.monotonic() - began)
    finally:
        conn.close()


def post_json(url: str, value: Any, timeout: float = 15.0, headers: Optional[dict] = None) -> Answer:
    body = value if isinstance(value, bytes) else json.dumps(value).encode()
    return http_request(url, "POST", body, {"Content-Type": "application/json", **(headers or {})}, timeout)


def raw_exchange(host: str, port: int, data: bytes, timeout: float = 10.0) -> tuple[bytes, float]:
    """Sends `data` as is on a new connection and reads until the server closes it (or the
    timeout); returns what came back and how long it took. Send errors are ignored: a
    server may answer and close before it has read everything."""
    began = time.monotonic()
    sock = socket.create_connection((host, port), timeout=timeout)
    received = b""
    try:
        try:
            sock.sendall(data)
        except OSError:
            pass
        received = read_until_closed(sock, began + timeout)
    finally:
        sock.close()
    return received, time.monotonic() - began


def read_until_closed(sock: socket.socket, deadline: float) -> bytes:
    chunks = []
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
        if response_complete(b"".join(chunks)):
            break
    return b"".join(chunks)


def response_complete(data: bytes) -> bool:
    """Whether `data` holds a whole HTTP/1.1 answer with a Content-Length body."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def parse_raw_answer(data: bytes) -> tuple[int, Any]:
    """(status, JSON body or None) of a raw HTTP answer; (0, None) for no answer."""
    if not data.startswith(b"HTTP/"):
        return 0, None
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


# ---------------------------------------------------------------------------------------
# Signing and tokens
# ---------------------------------------------------------------------------------------


def execute_body(action: str, params: Any, requested_by: str, decision: Any, secret: str,
                 signature: Optional[str] = None, **extra: Any) -> bytes:
    body = {
        "actionType": action,
        "actionParams": params,
        "requestedBy": requested_by,
        "policyDecision": decision,
        "signature": signature if signature is not None else sign(action, params, requested_by, secret),
    }
    body.update(extra)
    return json.dumps(body).encode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_parts(token: str) -> tuple[dict, dict]:
    header, claims, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(claims))


def ed25519_sign(key_file: Path, message: bytes) -> bytes:
    """Ed25519 signature of `message` with a PEM private key (openssl 3)."""
    # openssl 3.0 signs EdDSA only from a file (-rawin cannot stream stdin).
    message_file = key_file.with_name(f"message-{uuid.uuid4().hex}")
    message_file.write_bytes(message)
    try:
        done = subprocess.run(
            ["openssl", "pkeyutl", "-sign", "-inkey", str(key_file), "-rawin", "-in", str(message_file)],
            capture_output=True,
        )
    finally:
        message_file.unlink()
    check(done.returncode == 0, f"openssl could not sign: {done.stderr.decode(errors='replace')}")
    return done.stdout


def make_jwt(header: dict, claims: dict, key_file: Optional[Path] = None,
             hmac_key: Optional[bytes] = None, signature: Optional[bytes] = None) -> str:
    """A JWT signed with an Ed25519 PEM key, an HMAC key, or carrying `signature` as is."""
    signed = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    if key_file is not None:
        signature = ed25519_sign(key_file, signed.encode())
    elif hmac_key is not None:
        signature = hmac.new(hmac_key, signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{b64url(signature or b'')}"


def openssl_readable_key(pem: Path) -> Path:
    """The same Ed25519 key as a PKCS#8 v1 PEM next to `pem`. `policy-service keygen` writes
    PKCS#8 v2 (RFC 5958, with the public key), which openssl 3.0 cannot load; the seed is all
    that signing needs."""
    lines = [l for l in pem.read_text().splitlines() if l and not l.startswith("-----")]
    der = base64.b64decode("".join(lines))
    marker = der.find(bytes.fromhex("04220420"))
    check(marker > 0 and b"\x2b\x65\x70" in der, f"{pem} is not an Ed25519 PKCS#8 key")
    seed = der[marker + 4:marker + 36]
    v1 = bytes.fromhex("302e020100300506032b657004220420") + seed
    out = pem.with_name(pem.stem + "-v1.pem")
    body = base64.encodebytes(v1).decode().strip()
    out.write_text(f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n")
    return out


def new_ed25519_key(path: Path) -> Path:
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(path)],
                   check=True, capture_output=True)
    return path


# ---------------------------------------------------------------------------------------
# Postgres
# ---------------------------------------------------------------------------------------


class Postgres:
    """Stops and starts the local cluster (Debian's pg_ctlcluster). `ensure_running` is
    registered at exit and on SIGTERM/SIGINT by `Postgres.guard`, so a suite that stops it
    always starts it again."""

    @staticmethod
    def _cluster() -> tuple[str, str]:
        versions = sorted(os.listdir("/etc/postgresql"), key=lambda v: [int(p) for p in v.split(".") if p.isdigit()])
        return versions[-1], "main"

    @classmethod
    def ctl(cls, action: str, *extra: str) -> None:
        version, cluster = cls._cluster()
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, action, *extra],
                       check=True, capture_output=True, timeout=60)

    @staticmethod
    def ready() -> bool:
        return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode == 0

    @classmethod
    def stop(cls) -> None:
        cls.ctl("stop", "-m", "immediate")

    @classmethod
    def start(cls) -> None:
        if not cls.ready():
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cls._cluster(), "start"],
                           capture_output=True, timeout=60)
        wait_until("Postgres to accept connections", cls.ready, 60, 0.2)

    @classmethod
    def guard(cls) -> None:
        import atexit

        atexit.register(cls.ensure_running)

        def on_signal(signum, _frame):
            cls.ensure_running()
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    @classmethod
    def ensure_running(cls) -> None:
        try:
            cls.start()
        except Exception as err:  # noqa: BLE001 - last resort, say it loudly
            print(f"!! could not restart Postgres: {err}", file=sys.stderr, flush=True)


HISTORY_SQL = """
CREATE TABLE IF NOT EXISTS system_test_status_history (
    seq bigserial PRIMARY KEY,
    id uuid NOT NULL,
    status text NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE OR REPLACE FUNCTION system_test_record_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO system_test_status_history (id, status) VALUES (NEW.id, NEW.status);
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS system_test_record_status ON action_audit_logs;
CREATE TRIGGER system_test_record_status AFTER INSERT OR UPDATE ON action_audit_logs
    FOR EACH ROW EXECUTE FUNCTION system_test_record_status();
"""


# ---------------------------------------------------------------------------------------
# The stack
# ---------------------------------------------------------------------------------------

class Stack(stack_lib.Stack):
    """fake-kube + policy-service + `executors` executor-service processes on one fresh
    database named `warden_system_<suite>`, logs in `target/system-tests/<suite>/`; the
    policy is `policy_file` (default: `policies/default.yaml`)."""

    def __init__(self, suite: str, executors: int = 1, executor_env: Optional[dict] = None,
                 policy_env: Optional[dict] = None, policy_file: Optional[Path] = None):
        super().__init__(BIN, f"warden_system_{suite.replace('-', '_')}", LOG_ROOT / suite,
                         executors=executors, base_database_url=BASE_DATABASE_URL,
                         policy_env=policy_env, policy_file=policy_file, executor_env={
                             # Loose defaults so that cases are not throttled by accident;
                             # suites tighten what they test.
                             "EXECUTOR_REQUESTS_PER_SECOND": "100000",
                             # (one budget row per unit: keep these in the hundreds)
                             "RATE_LIMIT_RESTART_MAX": "500",
                             "RATE_LIMIT_SCALE_MAX": "500",
                             "RATE_LIMIT_ROLLOUT_RESTART_MAX": "500",
                             "RATE_LIMIT_READ_MAX": "500",
                             "DATABASE_MAX_CONNECTIONS": "8",
                             "RUST_LOG": "warn,executor_service=info",
                             **(executor_env or {}),
                         })
        self.suite = suite

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> "Stack":
        if self.dir.exists():
            shutil.rmtree(self.dir)
        super().start()
        # The policy service's own key, for tokens only it could sign (expired ones, a
        # policy gone wrong): openssl needs it as PKCS#8 v1.
        self.signing_key = openssl_readable_key(self.key_file)
        psql(self.db_url, HISTORY_SQL)
        return self

    # -- the fake cluster ---------------------------------------------------------------

    def seed(self, objects: list) -> None:
        answer = post_json(f"{self.fake_url}/_fake/objects", objects)
        check(answer.status == 201, f"seeding failed: {answer}")

    def seed_pods(self, namespace: str, names: list) -> None:
        self.seed([{"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": n, "namespace": namespace, "labels": {"app": n}},
                    "spec": {"containers": [{"name": "app", "image": "app:1"}]}} for n in names])

    def seed_deployment(self, namespace: str, name: str, replicas: int) -> None:
        self.seed([{"kind": "Deployment", "namespace": namespace, "name": name, "replicas": replicas}])

    def pod_exists(self, namespace: str, name: str) -> bool:
        status = http_request(f"{self.fake_url}/api/v1/namespaces/{namespace}/pods/{name}").status
        check(status in (200, 404), f"fake GET pod answered {status}")
        return status == 200

    def replicas(self, namespace: str, name: str) -> int:
        answer = http_request(f"{self.fake_url}/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
        return answer.json["spec"]["replicas"]

    def mutations(self) -> list:
        return http_request(f"{self.fake_url}/_fake/mutations").json

    def fake_requests(self) -> list:
        return http_request(f"{self.fake_url}/_fake/requests").json

    def last_request_seq(self) -> int:
        requests = self.fake_requests()
        return requests[-1]["seq"] if requests else 0

    def requests_since(self, seq: int) -> list:
        return [r for r in self.fake_requests() if r["seq"] > seq]

    def inject(self, *faults: dict) -> None:
        answer = post_json(f"{self.fake_url}/_fake/faults", list(faults))
        check(answer.status == 201, f"fault injection failed: {answer}")

    def clear_faults(self) -> None:
        http_request(f"{self.fake_url}/_fake/faults", "DELETE")

    # -- the policy service -------------------------------------------------------------

    def evaluate(self, action: str, resource: str, user: str = ENGINE, severity: str = "high",
                 role: Optional[str] = None) -> dict:
        """The policy's decision; `role` claims a role (development mode grants it), for a
        requester the policy file does not list."""
        context: dict = {"userId": user, "metadata": {"severity": severity, "confidence": 0.93,
                                                      "automated": True}}
        if role is not None:
            context["role"] = role
        answer = post_json(f"{self.policy_url}/api/v1/policy/evaluate", {
            "action": action, "resource": resource, "type": "self_healing", "context": context,
        })
        check(answer.status == 200, f"evaluate {action} {resource}: {answer}")
        return answer.json

    def allowed(self, action: str, resource: str, user: str = ENGINE) -> dict:
        decision = self.evaluate(action, resource, user)
        check(decision.get("allowed") is True and decision.get("token"),
              f"the policy did not allow {action} on {resource} for {user}: {decision}")
        return decision

    def restart_body(self, namespace: str, pod: str, decision: Optional[dict] = None,
                     requested_by: str = ENGINE, **extra: Any) -> bytes:
        """A correctly signed restart of `namespace/pod` with a fresh allow (or `decision`)."""
        if decision is None:
            decision = self.allowed("restart_pod", f"{namespace}/pod/{pod}", requested_by)
        params = {"namespace": namespace, "podName": pod}
        return execute_body("restart_pod", params, requested_by, decision, self.secret, **extra)

    def execute(self, body: bytes, index: int = 0, timeout: float = 15.0,
                headers: Optional[dict] = None) -> Answer:
        return http_request(f"{self.executor_url(index)}/executor/execute", "POST", body,
                            {"Content-Type": "application/json", **(headers or {})}, timeout)

    # -- the audit log ------------------------------------------------------------------

    def sql(self, sql: str) -> str:
        return psql(self.db_url, sql)

    def rows(self, where: str = "TRUE") -> list:
        return invariant.audit_rows(self.db_url, where)

    def row(self, audit_id: str) -> dict:
        found = self.rows(f"id = '{uuid.UUID(audit_id)}'")
        check(len(found) == 1, f"no audit row {audit_id}")
        return found[0]

    def row_count(self) -> int:
        return int(self.sql("SELECT count(*) FROM action_audit_logs"))

    def history(self) -> dict:
        """Every status each audit row took, in order."""
        return invariant.status_history(self.db_url) or {}

    def wait_final(self, audit_id: str, timeout: float = 15.0) -> dict:
        return wait_until(f"audit row {audit_id} to leave pending",
                          lambda: (lambda r: r if r["status"] != "pending" else None)(self.row(audit_id)),
                          timeout)

    # -- the invariant ------------------------------------------------------------------

    def check_invariant(self, allow_unknown: bool = False, pending_timeout: float = 20.0) -> str:
        """The system invariant (`scripts/lib/invariant.py`). `allow_unknown`: mutations may
        also be explained by `unknown` rows (timeouts, crashes). Returns a one-line summary."""
        return invariant.check(self.db_url, self.fake_url, allow_unknown, pending_timeout)


# ---------------------------------------------------------------------------------------
# Running requests in parallel
# ---------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One request's fate as a client saw it."""

    tag: Any
    status: int = 0  # 0: no HTTP answer
    code: Optional[str] = None
    audit_id: Optional[str] = None
    error: Optional[str] = None
    elapsed: float = 0.0
    retry_after: Optional[str] = None


def send_outcome(url: str, body: bytes, tag: Any = None, timeout: float = 20.0) -> Outcome:
    began = time.monotonic()
    try:
        answer = http_request(url, "POST", body, {"Content-Type": "application/json"}, timeout)
    except (OSError, http.client.HTTPException) as err:
        return Outcome(tag, error=f"{type(err).__name__}: {err}", elapsed=time.monotonic() - began)
    try:
        payload = answer.json
    except AssertionError:
        payload = {}
    return Outcome(tag, answer.status, payload.get("code"), payload.get("auditId"),
                   None if answer.status == 200 else payload.get("error"), answer.elapsed,
                   answer.headers.get("retry-after"))


def race(jobs: list, threads: int) -> list:
    """Runs `jobs` (callables) on `threads` threads that start together; returns results
    in job order."""
    results: list = [None] * len(jobs)
    barrier = threading.Barrier(threads)
    lock = threading.Lock()
    queue = list(enumerate(jobs))

    def worker():
        barrier.wait()
        while True:
            with lock:
                if not queue:
                    return
                index, job = queue.pop(0)
            results[index] = job()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results


def summarize(outcomes: list) -> dict:
    counts = collections.Counter((o.status, o.code) if o.status else (0, o.error.split(":")[0]) for o in outcomes)
    return {f"{s} {c}": n for (s, c), n in sorted(counts.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))}


def main(suite: Suite, stack: Stack, cases: Callable[[Suite, Stack], None]) -> int:
    """Starts `stack`, runs `cases`, stops it; returns the exit status."""
    suite.on_failure.append(stack.dump_logs)
    if not suite.case("start the stack (fake-kube, policy-service, executors, database)", stack.start):
        status = suite.finish()
        stack.stop()
        return status
    try:
        cases(suite, stack)
    finally:
        status = suite.finish()
        stack.stop(drop_database=status == 0)
    return status
