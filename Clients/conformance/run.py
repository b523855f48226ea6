#!/usr/bin/env python3
"""Runs the conformance scenario through the Python client (tally_client) and writes its
transcript (Clients/conformance/README.md says what a line holds).

    python run.py SOCKET [TRANSCRIPT]          (default: stdout; SCENARIO env: another scenario file)

Needs a python with Google's protobuf package (Clients/python/.venv). tallyd must be fresh: the
transcript holds transaction, reservation and purchase ids, which count from an empty ledger.
"""

from __future__ import annotations

import os
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "python"))

from google.protobuf.descriptor import FieldDescriptor  # noqa: E402
from google.protobuf.message import DecodeError  # noqa: E402

from tally_client import METHODS, STREAM_METHODS, TallyClient, TallyError  # noqa: E402
from tally_client.errors import CallTimeout, ConnectError, ConnectionClosed, ProtocolError  # noqa: E402

DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
DECIMAL = re.compile(r"^[0-9]+$")
INT64_TYPES = (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64)


def read_scenario(path: str):
    steps = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            method, _, payload_hex = line.partition("\t")
            steps.append((method, bytes.fromhex(payload_hex)))
    return steps


def repeated(field) -> bool:
    # protobuf 7 has is_repeated and no label; 4.21 has label only.
    if hasattr(field, "is_repeated"):
        return bool(field.is_repeated)
    return field.label == FieldDescriptor.LABEL_REPEATED


def normalize(message) -> None:
    """Times and dates differ between runs: a non-zero int64 field whose name ends in _at_us
    becomes 1, a string field named date holding YYYY-MM-DD becomes "YYYY-MM-DD"."""
    for field in message.DESCRIPTOR.fields:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if repeated(field):
                for item in getattr(message, field.name):
                    normalize(item)
            elif message.HasField(field.name):
                normalize(getattr(message, field.name))
        elif repeated(field):
            continue
        elif field.type in INT64_TYPES and field.name.endswith("_at_us"):
            if getattr(message, field.name) != 0:
                setattr(message, field.name, 1)
        elif field.type == FieldDescriptor.TYPE_STRING and field.name == "date":
            if DATE.match(getattr(message, field.name)):
                setattr(message, field.name, "YYYY-MM-DD")


def escape(text: str) -> str:
    """Printable ASCII except space, '%', ',' and '=' as is; every other byte as %XX."""
    out = []
    for b in text.encode("utf-8"):
        out.append(chr(b) if 0x21 <= b <= 0x7E and b not in b"%,=" else "%%%02X" % b)
    return "".join(out)


def detail_value(key: str, value: str) -> str:
    if key.endswith("_at_us") and DECIMAL.match(value):
        return "<time>"
    if key in ("day", "date") and DATE.match(value):
        return "<date>"
    return value


def line(n, code: str, reason: str, details, payload: bytes) -> str:
    shown = ",".join(f"{escape(k)}={escape(detail_value(k, v))}" for k, v in sorted(details.items(), key=lambda kv: kv[0].encode()))
    return f"{n} {code} {escape(reason) or '-'} {shown or '-'} {payload.hex() or '-'}"


def code_name(e: TallyError) -> str:
    return e.code.name if hasattr(e.code, "name") else f"CODE_{int(e.code)}"


def run_stream(tally: TallyClient, n: int, method: str, request, lines) -> None:
    """A stream step: a line per message up to the one with `live` set, then the cancel, then
    the stream's last frame as the step's line."""
    stream = tally.stream(method, request, timeout_ms=10000)
    k = 0
    end = None
    try:
        for message in stream:
            k += 1
            normalize(message)
            lines.append(line(f"{n}.{k}", "OK", "", {}, message.SerializeToString(deterministic=True)))
            if message.live:
                end = stream.cancel(wait=True)
                break
    except TallyError as e:
        end = e
    if end is None:
        lines.append(line(n, "OK", "", {}, b""))
    else:
        lines.append(line(n, code_name(end), end.reason, dict(end.details), b""))


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    socket_path = sys.argv[1]
    steps = read_scenario(os.environ.get("SCENARIO", os.path.join(here, "scenario.txt")))
    lines = []
    with TallyClient(socket_path, timeout_ms=10000) as tally:
        for n, (method, payload) in enumerate(steps, 1):
            # The typed path where the payload is a request this runtime can parse (it must
            # re-encode to the same bytes); the bytes as they are otherwise.
            request = payload
            known = METHODS.get(method) or STREAM_METHODS.get(method)
            if known is not None:
                try:
                    parsed = known.request_type.FromString(payload)
                except (DecodeError, UnicodeDecodeError):  # the pure-Python backend raises the latter
                    parsed = None
                if parsed is not None:
                    again = parsed.SerializeToString(deterministic=True)
                    if again != payload:
                        print(f"step {n}: protobuf re-encodes the request as {again.hex()}, not {payload.hex()}",
                              file=sys.stderr)
                        return 1
                    request = parsed
            if method in STREAM_METHODS:
                try:
                    run_stream(tally, n, method, request, lines)
                except (ConnectionClosed, CallTimeout, ProtocolError, ConnectError) as e:
                    print(f"step {n} ({method}): the client failed locally: {e!r}", file=sys.stderr)
                    return 1
                continue
            try:
                answer = tally.call(method, request)
            except (ConnectionClosed, CallTimeout, ProtocolError, ConnectError) as e:
                print(f"step {n} ({method}): the client failed locally: {e!r}", file=sys.stderr)
                return 1
            except TallyError as e:
                lines.append(line(n, code_name(e), e.reason, dict(e.details), b""))
                continue
            if isinstance(answer, (bytes, bytearray)):
                lines.append(line(n, "OK", "", {}, bytes(answer)))  # a method METHODS does not know
            else:
                normalize(answer)
                lines.append(line(n, "OK", "", {}, answer.SerializeToString(deterministic=True)))
    text = "\n".join(lines) + "\n"
    if len(sys.argv) == 3:
        with open(sys.argv[2], "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
