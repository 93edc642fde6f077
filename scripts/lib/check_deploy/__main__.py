"""The command line: `python -m check_deploy --root DIR --tools DIR --permissions FILE
[--self-test]` (scripts/check-deploy runs it with .tools/venv)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __doc__ as package_doc
from .checks import run_checks
from .common import Deploy
from .selftest import self_test


def main() -> None:
    parser = argparse.ArgumentParser(prog="check_deploy", description=package_doc.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--tools", type=Path, required=True)
    parser.add_argument("--permissions", type=Path, required=True,
                        help="JSON printed by `executor-service permissions`")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    try:
        expected = json.loads(args.permissions.read_text())
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"check-deploy: cannot read the executor's permissions: {e}")
    if not isinstance(expected, list) or not expected:
        sys.exit("check-deploy: `executor-service permissions` printed no rules")
    root, tools = args.root.resolve(), args.tools.resolve()
    if args.self_test:
        self_test(root, tools, expected)
    else:
        run_checks(Deploy(root, tools), expected)


if __name__ == "__main__":
    main()
