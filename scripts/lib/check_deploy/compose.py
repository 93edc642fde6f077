"""e. docker-compose.yml and the Dockerfile."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .common import Deploy, SERVICES, fail, port_of


def compose_env(service: dict, where: str) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            k, _, v = str(item).partition("=")
            out[k] = v
        return out
    if not isinstance(env, dict):
        fail(f"{where}: environment is neither a mapping nor a list")
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def compose_container_ports(service: dict, where: str) -> list[int]:
    ports = []
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            target = p.get("target")
        else:
            target = str(p).split("/")[0].rsplit(":", 1)[-1]
        try:
            ports.append(int(target))
        except (TypeError, ValueError):
            fail(f"{where}: cannot read the port mapping {p!r}")
    return ports


def check_compose(d: Deploy) -> str:
    rel = "docker-compose.yml"
    compose = d.yaml(rel) or {}
    services = compose.get("services") or {}
    ports = d.bind_ports()
    for required in ["postgres", *SERVICES]:
        if required not in services:
            fail(f"{rel}: no service {required}")

    pg = services["postgres"]
    if "pg_isready" not in json.dumps((pg.get("healthcheck") or {}).get("test", "")):
        fail(f"{rel}: postgres has no pg_isready healthcheck")

    for svc, spec in SERVICES.items():
        s = services[svc]
        where = f"{rel}: {svc}"
        port = ports[svc]
        command = s.get("command")
        words = command.split() if isinstance(command, str) else [str(w) for w in command or []]
        if svc not in words:
            fail(f"{where}: command {command!r} does not run {svc}")
        mapped = compose_container_ports(s, where)
        if mapped != [port]:
            fail(f"{where}: ports publish container port(s) {mapped}, expected [{port}] "
                 f"({spec['bind']} in .env.example)")
        env = compose_env(s, where)
        if spec["bind"] in env and port_of(env[spec["bind"]]) != port:
            fail(f"{where}: {spec['bind']}={env[spec['bind']]} does not listen on {port}")
        hc = s.get("healthcheck")
        if not hc or hc.get("disable"):
            fail(f"{where}: no healthcheck")
        test = hc.get("test")
        test = " ".join(str(t) for t in test) if isinstance(test, list) else str(test or "")
        m = re.search(r"https?://(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)/readyz\b", test)
        if not m:
            fail(f"{where}: the healthcheck does not GET /readyz on the container ({test!r})")
        if int(m.group(1)) != port:
            fail(f"{where}: the healthcheck hits port {m.group(1)}, the service listens on {port}")
        env_file = s.get("env_file")
        if env_file is not None:
            files = env_file if isinstance(env_file, list) else [env_file]
            for f in files:
                if isinstance(f, str) or f.get("required", True):
                    fail(f"{where}: env_file {f!r} is required; use "
                         f"{{path: .env, required: false}} so that compose runs without .env")

    ex = services["executor-service"]
    where = f"{rel}: executor-service"
    deps = ex.get("depends_on")
    if not isinstance(deps, dict):
        fail(f"{where}: depends_on must be a mapping with conditions")
    for dep in ("postgres", "policy-service"):
        cond = (deps.get(dep) or {}).get("condition")
        if cond != "service_healthy":
            fail(f"{where}: depends_on {dep} with condition {cond!r}, expected service_healthy")
    env = compose_env(ex, where)
    if not re.match(r"^postgres(ql)?://[^@/]*@postgres:5432/", env.get("DATABASE_URL", "")):
        fail(f"{where}: DATABASE_URL does not point at the postgres service")
    if env.get("POLICY_URL") != f"http://policy-service:{ports['policy-service']}":
        fail(f"{where}: POLICY_URL={env.get('POLICY_URL')!r}, expected "
             f"http://policy-service:{ports['policy-service']}")
    if not re.fullmatch(r"\$\{JWT_SECRET:\?[^}]+\}", env.get("JWT_SECRET", "")):
        fail(f"{where}: JWT_SECRET must be required from .env: ${{JWT_SECRET:?message}}")
    return "services, ports, healthchecks, depends_on"


@dataclass
class Stage:
    base: str
    instructions: list  # (keyword, arguments)


def dockerfile_stages(text: str) -> list[Stage]:
    lines, buf = [], ""
    for raw in text.splitlines():
        if not buf and raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            buf += raw.rstrip()[:-1] + " "
            continue
        buf += raw
        if buf.strip():
            lines.append(buf.strip())
        buf = ""
    if buf.strip():
        lines.append(buf.strip())
    stages: list[Stage] = []
    for line in lines:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stages.append(Stage(args.strip(), []))
        elif stages:
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def check_dockerfile(d: Deploy) -> str:
    rel = "Dockerfile"
    stages = dockerfile_stages(d.read(rel))
    if len(stages) < 2:
        fail(f"{rel}: expected a multi-stage build (builder and runtime)")
    builds = [a for s in stages[:-1] for k, a in s.instructions if k == "RUN" and "cargo build" in a]
    if not builds:
        fail(f"{rel}: no `cargo build` in a builder stage")
    for flag in ("--release", "--locked", "-p policy-service", "-p executor-service"):
        if not any(re.search(re.escape(flag) + r"(\s|$)", b) for b in builds):
            fail(f"{rel}: cargo build lacks {flag}")
    final = stages[-1]
    users = [a for k, a in final.instructions if k == "USER"]
    if not users:
        fail(f"{rel}: the runtime stage sets no USER (it would run as root)")
    user = users[-1].split(":")[0]
    if not user.isdigit() or int(user) == 0:
        fail(f"{rel}: USER {users[-1]} must be a numeric non-root uid (runAsNonRoot needs one)")
    exposed = {int(p.split("/")[0]) for k, a in final.instructions if k == "EXPOSE"
               for p in a.split()}
    for svc, port in d.bind_ports().items():
        if port not in exposed:
            fail(f"{rel}: does not EXPOSE {port} ({svc})")
    for k, a in final.instructions:
        if k == "ENTRYPOINT" and any(s in a for s in SERVICES):
            fail(f"{rel}: ENTRYPOINT {a} fixes the service; leave the choice to CMD")
    copies = " ".join(a for k, a in final.instructions if k == "COPY" and "--from=" in a)
    if not copies:
        fail(f"{rel}: the runtime stage copies nothing from the builder")
    return f"non-root USER {users[-1]}, EXPOSE {sorted(exposed)}, builds both services"


def dockerfile_env_names(d: Deploy) -> set[str]:
    names = set()
    for k, a in dockerfile_stages(d.read("Dockerfile"))[-1].instructions:
        if k == "ENV":
            names |= set(re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", a))
            if "=" not in a:
                names.add(a.split()[0])
    return names
