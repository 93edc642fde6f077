"""Reference Python client for the execute request signature (tests/signature_forms.rs).

Reads JSON lines {"body": "<request body JSON text>", "secret": "<secret>"} on stdin. For each
line it acts as a Python client holding the decoded request: it prints one JSON line

    {"body": json.dumps(request),
     "forms": {"python_default": {"text": ..., "hmac": ...},
               "python_sorted":  {"text": ..., "hmac": ...}}}

where the signed object is {actionType, actionParams, requestedBy} taken in the request's key
order (members absent from the request are absent from it), "text" is json.dumps(obj) or
json.dumps(obj, sort_keys=True), and "hmac" is the hex HMAC-SHA256 of the text's UTF-8 bytes.
"""

import hashlib
import hmac
import json
import sys

SIGNED = ("actionType", "actionParams", "requestedBy")


def main() -> None:
    # Split on "\n" only: str.splitlines() would also split on U+2028 and friends, which
    # appear raw inside the JSON lines.
    for line in sys.stdin.buffer.read().decode("utf-8").split("\n"):
        if not line.strip():
            continue
        case = json.loads(line)
        request = json.loads(case["body"])
        secret = case["secret"].encode("utf-8")
        signed = {key: value for key, value in request.items() if key in SIGNED}
        forms = {}
        for name, text in (
            ("python_default", json.dumps(signed)),
            ("python_sorted", json.dumps(signed, sort_keys=True)),
        ):
            digest = hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()
            forms[name] = {"text": text, "hmac": digest}
        sys.stdout.write(json.dumps({"body": json.dumps(request), "forms": forms}) + "\n")


if __name__ == "__main__":
    main()
