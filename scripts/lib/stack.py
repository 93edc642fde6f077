"""Starts Warden's processes on 127.0.0.1: the one way to bring up the stack.

The stack is the fake Kubernetes API server (`fake-kube`, which writes its own kubeconfig),
the policy service (development mode, a fresh Ed25519 signing key) and N executors on a fresh
Postgres database, each on a free port. Only the Python standard library is used.

As a module (`tests/system/harness.py` subclasses `Stack`):

    stack = Stack(bin_dir, db_name, work_dir, executors=1, executor_env={...}).start()
    ... stack.fake_url, stack.policy_url, stack.executor_url(i), stack.db_url, stack.secret
    stack.stop()

As a command (`scripts/lib/stack.sh` wraps it for shell scripts):

    stack.py start --bin DIR --db NAME [--database-url URL] [--env-file OUT] [--fake-only]
                   [--executors N] [--policy-file FILE]
                   [VAR=VALUE ...]                   # extra settings for the executors
    stack.py stop STACK_DIR                  # or --env-file OUT

`start` waits until every process is ready, then writes shell assignments (to OUT, or to
stdout) of FAKE_URL, POLICY_URL, EXECUTOR_URL, EXECUTOR_URLS, STACK_DIR, STACK_DATABASE_URL,
JWT_SECRET and FAKE_PID, POLICY_PID, EXECUTOR_PID, EXECUTOR_PIDS, and exits; the processes
keep running until `stop`. If anything fails to start, it stops what it started and exits 1.
`--fake-only` starts fake-kube and creates the database, nothing else. The policy service
loads `policies/default.yaml` unless `--policy-file` names another. The secret is
JWT_SECRET from the environment if set, else a fresh one. Logs, the kubeconfig and the
signing key (`decision-key.pem`) are in STACK_DIR (a new temporary directory).
"""

from __future__ import annotations

import argparse
import ctypes
import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
ENV_FILE = "stack.env"

_libc = ctypes.CDLL("libc.so.6", use_errno=True) if sys.platform.startswith("linux") else None
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # The child gets SIGKILL when the thread that forked it exits, however it exits.
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def psql(url: str, sql: str, timeout: float = 30.0) -> str:
    done = subprocess.run(["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"psql failed: {done.stderr.strip()} (sql: {sql[:200]})")
    return done.stdout.strip()


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether a GET of `url` answers 200 (straight to the address: no proxy applies)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


@dataclass
class Proc:
    """One process of the stack and its log."""

    name: str
    popen: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)


class Stack:
    """fake-kube + policy-service + `executors` executor-service processes on one fresh
    database `db_name`, with logs and files in `work_dir` (emptied first). The policy
    service loads `policy_file` (default: `policies/default.yaml`).

    `die_with_parent`: children get SIGKILL when the starting thread exits (for test
    harnesses; the command turns it off, its processes outlive it). `inherit_env`: children
    see the caller's environment; otherwise only PATH, HOME, LANG and TMPDIR, so nothing
    (DATABASE_URL, RUST_LOG, ...) leaks in. Children run in `work_dir`, so no .env file of
    the caller's directory is read."""

    def __init__(self, bin_dir: Path, db_name: str, work_dir: Path, *, executors: int = 1,
                 executor_env: Optional[dict] = None, policy_env: Optional[dict] = None,
                 secret: Optional[str] = None, base_database_url: Optional[str] = None,
                 rust_log: str = "warn", die_with_parent: bool = True, inherit_env: bool = False,
                 fake_only: bool = False, policy_file: Optional[Path] = None):
        self.bin = Path(bin_dir).resolve()
        self.db_name = db_name
        self.dir = Path(work_dir)
        self.executor_count = 0 if fake_only else executors
        self.executor_env = executor_env or {}
        self.policy_env = policy_env or {}
        self.secret = secret or os.urandom(32).hex()
        self.base_database_url = base_database_url or os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
        self.db_url = self.base_database_url.rsplit("/", 1)[0] + "/" + db_name
        self.rust_log = rust_log
        self.die_with_parent = die_with_parent
        self.inherit_env = inherit_env
        self.fake_only = fake_only
        self.policy_file = Path(policy_file).resolve() if policy_file else ROOT / "policies" / "default.yaml"
        self.procs: list[Proc] = []
        self.fake: Optional[Proc] = None
        self.policy: Optional[Proc] = None
        self.executors: list[Optional[Proc]] = [None] * self.executor_count
        self.executor_ports = [free_port() for _ in range(self.executor_count)]
        self.fake_url = ""
        self.policy_url = ""
        self.kubeconfig = self.dir / "kubeconfig"
        self.key_file = self.dir / "decision-key.pem"

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> "Stack":
        self.dir.mkdir(parents=True, exist_ok=True)
        for entry in self.dir.iterdir():
            if entry.is_file() or entry.is_symlink():
                entry.unlink()
        psql(self.base_database_url, f"DROP DATABASE IF EXISTS {self.db_name} WITH (FORCE)")
        psql(self.base_database_url, f"CREATE DATABASE {self.db_name}")
        self.start_fake()
        if self.fake_only:
            return self
        subprocess.run([str(self.bin / "policy-service"), "keygen", "--out", str(self.key_file)],
                       check=True, capture_output=True, cwd=self.dir)
        self.start_policy()
        for index in range(self.executor_count):
            self.start_executor(index)
        return self

    def start_fake(self) -> Proc:
        fake = self.spawn("fake-kube", [str(self.bin / "fake-kube"), "--addr", "127.0.0.1:0",
                                        "--kubeconfig", str(self.kubeconfig)],
                          {"RUST_LOG": self.rust_log}, self.dir / "fake-kube.log")
        self.fake = fake
        deadline = time.monotonic() + 10
        while True:
            line = next((l for l in fake.log.read_text(errors="replace").splitlines()
                         if l.startswith("listening ")), None)
            if line:
                break
            if not fake.alive() or time.monotonic() > deadline:
                raise AssertionError(f"fake-kube did not print its address:\n{tail(fake.log)}")
            time.sleep(0.05)
        self.fake_url = line.split(" ", 1)[1].strip()
        return fake

    def start_policy(self) -> Proc:
        port = free_port()
        self.policy_url = f"http://127.0.0.1:{port}"
        policy = self.spawn("policy-service", [str(self.bin / "policy-service")], {
            "POLICY_BIND": f"127.0.0.1:{port}",
            "POLICY_FILE": str(self.policy_file),
            "DECISION_SIGNING_KEY_FILE": str(self.key_file),
            "RUST_LOG": self.rust_log,
            **self.policy_env,
        }, self.dir / "policy-service.log")
        self.policy = policy
        self.wait_ready(self.policy_url, policy)
        return policy

    def executor_url(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.executor_ports[index]}"

    @property
    def executor(self) -> str:
        return self.executor_url(0)

    def start_executor(self, index: int = 0, wait: bool = True) -> Proc:
        proc = self.spawn(f"executor-{index}", [str(self.bin / "executor-service")], {
            "EXECUTOR_BIND": f"127.0.0.1:{self.executor_ports[index]}",
            "DATABASE_URL": self.db_url,
            "POLICY_URL": self.policy_url,
            "KUBECONFIG": str(self.kubeconfig),
            "JWT_SECRET": self.secret,
            "RUST_LOG": self.rust_log,
            **self.executor_env,
        }, self.dir / f"executor-{index}.log")
        self.executors[index] = proc
        if wait:
            self.wait_ready(self.executor_url(index), proc)
        return proc

    def spawn(self, name: str, argv: list, extra_env: dict, log: Path) -> Proc:
        if self.die_with_parent:
            # PR_SET_PDEATHSIG fires when the *thread* that forked exits: fork from the main one.
            if threading.current_thread() is not threading.main_thread():
                raise AssertionError("spawn from the main thread only")
        if self.inherit_env:
            base = dict(os.environ)
        else:
            base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        out = open(log, "ab")  # noqa: SIM115 - the child owns it
        popen = subprocess.Popen(argv, env={**base, "NO_COLOR": "1", **extra_env}, cwd=self.dir,
                                 stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 preexec_fn=_die_with_parent if self.die_with_parent else None)
        out.close()
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def wait_ready(self, url: str, proc: Proc, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not http_ok(f"{url}/readyz"):
            if not proc.alive():
                raise AssertionError(f"{proc.name} exited with {proc.popen.returncode}:\n{tail(proc.log)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{proc.name} not ready at {url} after {timeout:.0f}s:\n{tail(proc.log)}")
            time.sleep(0.1)

    def stop(self, drop_database: bool = True) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        if drop_database:
            try:
                psql(self.base_database_url, f"DROP DATABASE IF EXISTS {self.db_name} WITH (FORCE)")
            except Exception:  # noqa: BLE001 - Postgres may be the thing that failed
                pass

    def dump_logs(self) -> None:
        for proc in self.procs:
            print(f"--- last lines of {proc.log} ---\n{tail(proc.log, 25)}", flush=True)

    def variables(self) -> dict:
        """What shell scripts use, as `start` writes it."""
        live = [p for p in self.executors if p is not None]
        return {
            "STACK_DIR": str(self.dir),
            "STACK_DATABASE_URL": self.db_url,
            "JWT_SECRET": self.secret,
            "FAKE_URL": self.fake_url,
            "FAKE_PID": str(self.fake.popen.pid) if self.fake else "",
            "POLICY_URL": self.policy_url,
            "POLICY_PID": str(self.policy.popen.pid) if self.policy else "",
            "EXECUTOR_URL": self.executor_url(0) if self.executor_count else "",
            "EXECUTOR_PID": str(live[0].popen.pid) if live else "",
            "EXECUTOR_URLS": " ".join(self.executor_url(i) for i in range(self.executor_count)),
            "EXECUTOR_PIDS": " ".join(str(p.popen.pid) for p in live),
            # For `stop`: each PID with the binary it must still be running.
            "STACK_PROCS": " ".join(f"{p.popen.pid}:{p.popen.args[0]}" for p in self.procs),
        }


# ---------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------


def shell_assignments(values: dict) -> str:
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in values.items())


def read_assignments(path: Path) -> dict:
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = " ".join(shlex.split(value))
    return values


def running(pid: int, binary: str) -> bool:
    """Whether `pid` is still the process started from `binary` (not a reused PID)."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode()
    except OSError:
        return False
    return argv0 == binary


def stop_recorded(stack_dir: Path, timeout: float = 10.0) -> None:
    """Ends the processes `start` recorded in `stack_dir` and removes the directory."""
    env_file = stack_dir / ENV_FILE
    procs = []
    if env_file.exists():
        for entry in read_assignments(env_file).get("STACK_PROCS", "").split():
            pid, _, binary = entry.partition(":")
            procs.append((int(pid), binary))
    for pid, binary in procs:
        if running(pid, binary):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for pid, binary in procs:
        while running(pid, binary) and time.monotonic() < deadline:
            time.sleep(0.05)
        if running(pid, binary):
            os.kill(pid, signal.SIGKILL)
    if stack_dir.name.startswith("warden-stack-"):
        subprocess.run(["rm", "-rf", str(stack_dir)], check=False)


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(prog="stack.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start the stack and print its variables")
    start.add_argument("--bin", required=True, type=Path, help="directory of the binaries")
    start.add_argument("--db", required=True, help="database to (re)create")
    start.add_argument("--env-file", type=Path, help="write the variables here, not to stdout")
    start.add_argument("--database-url", help="a database of the server to use (default: $DATABASE_URL)")
    start.add_argument("--executors", type=int, default=1)
    start.add_argument("--fake-only", action="store_true", help="fake-kube and the database only")
    start.add_argument("--policy-file", type=Path, help="the policy (default: policies/default.yaml)")
    start.add_argument("settings", nargs="*", metavar="VAR=VALUE", help="executor settings")
    stop = commands.add_parser("stop", help="stop what `start` started")
    stop.add_argument("stack_dir", nargs="?", type=Path)
    stop.add_argument("--env-file", type=Path)
    args = parser.parse_args(argv)

    if args.command == "stop":
        if args.stack_dir is None and args.env_file is None:
            parser.error("stop needs STACK_DIR or --env-file")
        stack_dir = args.stack_dir or Path(read_assignments(args.env_file)["STACK_DIR"])
        stop_recorded(stack_dir)
        return 0

    settings = {}
    for setting in args.settings:
        key, sep, value = setting.partition("=")
        if not sep:
            parser.error(f"not VAR=VALUE: {setting!r}")
        settings[key] = value
    work = Path(tempfile.mkdtemp(prefix="warden-stack-"))
    stack = Stack(args.bin, args.db, work, executors=args.executors, executor_env=settings,
                  secret=os.environ.get("JWT_SECRET") or None,
                  base_database_url=args.database_url,
                  rust_log=os.environ.get("RUST_LOG") or "warn", die_with_parent=False,
                  inherit_env=True, fake_only=args.fake_only, policy_file=args.policy_file)
    try:
        stack.start()
    except Exception as err:  # noqa: BLE001 - report, clean up, fail
        print(f"stack: {err}", file=sys.stderr)
        stack.stop(drop_database=False)
        subprocess.run(["rm", "-rf", str(work)], check=False)
        return 1
    text = shell_assignments(stack.variables())
    (work / ENV_FILE).write_text(text)
    if args.env_file:
        args.env_file.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
