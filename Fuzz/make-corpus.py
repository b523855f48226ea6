#!/usr/bin/env python3
"""Writes the small seed corpora in Fuzz/corpus/<target>/ (committed; rerun after a change here).
Protobuf is encoded by hand so that no generated Python code is needed."""
import os, struct

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F; n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n: return bytes(out)

def field(num, value):  # int -> varint field, bytes/str -> length-delimited field
    if isinstance(value, int): return varint(num << 3) + varint(value)
    if isinstance(value, str): value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value

def request(call_id, method, payload=b"", version=1, timeout_ms=0):
    body = field(1, call_id) + field(2, version) + field(3, method)
    if timeout_ms: body += field(4, timeout_ms)
    return body + (field(5, payload) if payload else b"")

def frame(body): return struct.pack(">I", len(body)) + body

L = "/tally.v1.Ledger/"
balance = field(1, "alice")
credit = field(1, "alice") + field(2, 100) + field(3, 2) + field(4, "order-1") + field(5, "memo") + field(6, "key-1")
spend = field(1, "alice") + field(2, 30) + field(6, "key-2")
long_method = b"/tally.v1.Ledger/" + b"x" * 182 + "é".encode() + b"y" * 40  # é straddles byte 200

corpus = {
    # FuzzFrame: 2 bytes frame limit (0xFFFF = 4 MiB), 1 byte read-size seed, then the stream.
    "frame": {
        "getbalance": b"\x04\x00\x00" + frame(request(1, L + "GetBalance", balance)),
        "two-frames": b"\xff\xff\x07" + frame(b"") + frame(request(2, L + "Credit", credit)),
        "at-and-over-limit": b"\x00\x40\x03" + frame(b"\x01" * 64) + frame(b"\x02" * 65),
        "http-garbage": b"\xff\xff\x01" + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "partial-tail": b"\x04\x00\x05" + frame(b"abc") + frame(b"defgh")[:6],
    },
    # FuzzRequest: even first byte = raw Request body; odd = method index byte + payload.
    "request": {
        "getbalance": b"\x00" + request(1, L + "GetBalance", balance),
        "credit-deadline": b"\x00" + request(7, L + "Credit", credit, timeout_ms=500),
        "spend": b"\x00" + request(8, L + "Spend", spend),
        "version-2": b"\x00" + request(9, L + "Spend", spend, version=2),
        "unknown-long-method": b"\x00" + request(10, long_method),
        "admin-backup": b"\x00" + request(11, "/tally.v1.Admin/Backup", field(1, "/nonexistent-dir/b")),
        "m0-getbalance": b"\x01\x00" + balance,
        "m1-credit": b"\x01\x01" + credit,
        "m2-spend": b"\x01\x02" + spend,
        "m3-snapshot": b"\x01\x03",
        "m4-backup": b"\x01\x04" + field(1, "relative/path"),
        "m5-health": b"\x01\x05" + field(1, 1),
    },
    # FuzzLedger: TTL index, start-time index, then per command: op, user, amount, reference,
    # memo, [key if op&4], [kind if credit], time step (see FuzzInput in FuzzLedger.swift).
    "ledger": {
        "credit-spend-replay-conflict": bytes([3, 1,
            2, 0x02, 100, 0, 0, 2, 0,             # credit alice 100 (grant)
            7, 0x02, 30, 0, 0, 0x22, 3,           # spend alice 30, key k1
            7, 0x02, 30, 0, 0, 0x22, 3,           # the same again: replayed
            7, 0x02, 31, 0, 0, 0x22, 6,           # another amount, same key: conflict; then past the TTL
            4, 0x12, 5, 0, 0, 0x32, 9, 0,         # wire credit to bob with unknown kind 9: refused
            3, 0x02, 10, 0, 0, 0]),               # spend Int64.max from alice: insufficient
        "overflow": bytes([3, 1,
            2, 0x12, 10, 0, 0, 1, 0,              # credit bob Int64.max
            2, 0x12, 4, 0, 0, 1, 0,               # one more: AMOUNT_OVERFLOW
            3, 0x12, 10, 0, 0, 0]),               # spend it all
        "hostile-strings": bytes([0, 2,
            6, 0x04, 5, 0x06, 0x26, 0x36, 1,      # control char user, limit+1 reference, etc.
            6, 0x07, 5, 0x17, 0x09, 0x13, 1,      # 130-byte é user, 16 KiB memo
            2, 0x03, 1, 0x0a, 8, 0xff, 0x80, 0xc3, 0x28, 0xf0, 0x9f, 0x98, 0, 3, 4]),  # raw bytes
    },
}

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
for target, seeds in corpus.items():
    os.makedirs(os.path.join(root, target), exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(root, target, name), "wb") as f:
            f.write(data)
