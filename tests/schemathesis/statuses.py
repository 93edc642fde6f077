"""What a Schemathesis run actually exercised: the answers' status codes per operation.

Reads the run's HAR report and the OpenAPI document it fuzzed, prints one line per
operation (`GET /executor/approvals/{id}: 200 x3, 400 x41, 404 x76`), and fails if an
operation named with `--expect` never got one of the given statuses, so that a change
that leaves an operation answering only errors (every request refused before the handler)
does not pass unnoticed.

    statuses.py --openapi URL_OR_FILE --har FILE [--expect "GET /executor/grants=200" ...]

Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit


def load_json(source: str):
    if source.startswith(("http://", "https://")):
        # Straight to the address: the document is served by a local process.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(source, timeout=10) as answer:
            return json.load(answer)
    return json.loads(Path(source).read_text())


def operations(document: dict) -> list:
    """(method, template, regex) of every operation, literal templates first so that
    `/executor/approvals` does not fall under a `{id}` pattern."""
    found = []
    for template, item in document.get("paths", {}).items():
        parts = re.split(r"(\{[^}]+\})", template)
        pattern = "".join("[^/]*" if p.startswith("{") else re.escape(p) for p in parts)
        for method in item:
            if method.lower() in ("get", "put", "post", "delete", "patch", "head", "options"):
                found.append((method.upper(), template, re.compile(f"^{pattern}$")))
    return sorted(found, key=lambda op: op[1].count("{"))


def tally(document: dict, har: dict) -> dict:
    ops = operations(document)
    counts: dict = collections.defaultdict(collections.Counter)
    for entry in har.get("log", {}).get("entries", []):
        method = entry["request"]["method"].upper()
        path = urlsplit(entry["request"]["url"]).path
        status = entry["response"]["status"]
        # Schemathesis also tries the methods a path does not document (405 expected).
        name = next((f"{m} {t}" for m, t, rx in ops if m == method and rx.match(path)),
                    "(undocumented methods)")
        counts[name][status] += 1
    for method, template, _ in ops:
        counts.setdefault(f"{method} {template}", collections.Counter())
    return counts


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(prog="statuses.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--openapi", required=True)
    parser.add_argument("--har", required=True, type=Path)
    parser.add_argument("--expect", action="append", default=[], metavar="'METHOD PATH=STATUS[,STATUS]'")
    args = parser.parse_args(argv)
    counts = tally(load_json(args.openapi), json.loads(args.har.read_text()))
    for name in sorted(counts):
        shown = ", ".join(f"{status} x{n}" for status, n in sorted(counts[name].items())) or "no requests"
        print(f"  {name}: {shown}")
    missing = []
    for expectation in args.expect:
        name, _, statuses = expectation.rpartition("=")
        wanted = {int(s) for s in statuses.split(",")}
        if not wanted & set(counts.get(name, {})):
            missing.append(f"{name} never answered {'/'.join(map(str, sorted(wanted)))}")
    for line in missing:
        print(f"statuses: {line}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
