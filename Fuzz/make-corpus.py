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
watch = field(1, "alice") + field(1, "bob") + field(3, 1) + field(4, 41)  # resume after 41
long_method = b"/tally.v1.Ledger/" + b"x" * 182 + "é".encode() + b"y" * 40  # é straddles byte 200

corpus = {
    # FuzzFrame: 2 bytes frame limit (0xFFFF = 4 MiB), 1 byte read-size seed, then the stream.
    "frame": {
        "getbalance": b"\x04\x00\x00" + frame(request(1, L + "GetBalance", balance)),
        "two-frames": b"\xff\xff\x07" + frame(b"") + frame(request(2, L + "Credit", credit)),
        "at-and-over-limit": b"\x00\x40\x03" + frame(b"\x01" * 64) + frame(b"\x02" * 65),
        "http-garbage": b"\xff\xff\x01" + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "partial-tail": b"\x04\x00\x05" + frame(b"abc") + frame(b"defgh")[:6],
        "watch-then-cancel": b"\xff\xff\x02" + frame(request(3, L + "WatchBalance", watch))
        + frame(field(1, 3) + field(6, 1)),
    },
    # FuzzRequest: even first byte = raw Request body; odd = method index byte + payload.
    "request": {
        "getbalance": b"\x00" + request(1, L + "GetBalance", balance),
        "credit-deadline": b"\x00" + request(7, L + "Credit", credit, timeout_ms=500),
        "spend": b"\x00" + request(8, L + "Spend", spend),
        "version-2": b"\x00" + request(9, L + "Spend", spend, version=2),
        "unknown-long-method": b"\x00" + request(10, long_method),
        "admin-backup": b"\x00" + request(11, "/tally.v1.Admin/Backup", field(1, "/nonexistent-dir/b")),
        "watch-balance-resume": b"\x00" + request(12, L + "WatchBalance", watch, timeout_ms=30000),
        "watch-usage": b"\x00" + request(13, "/tally.v1.Usage/WatchUsage", field(1, "alice") + field(1, "bob")),
        "watch-all": b"\x00" + request(14, L + "WatchBalance", field(2, 1)),
        "cancel": b"\x00" + field(1, 12) + field(6, 1),
        "cancel-with-junk": b"\x00" + request(15, L + "Credit", credit) + field(6, 1),
        "m0-getbalance": b"\x01\x00" + balance,
        "m1-credit": b"\x01\x01" + credit,
        "m2-spend": b"\x01\x02" + spend,
        "m3-snapshot": b"\x01\x03",
        "m4-backup": b"\x01\x04" + field(1, "relative/path"),
        "m5-health": b"\x01\x05" + field(1, 1),
    },
    # FuzzLedger: TTL index (| retention index << 2), start-time index (| (zone index + 32) << 2;
    # UTC below 128), then per command: op, its fields, time step (see FuzzInput in
    # FuzzLedger.swift). op >> 3 picks the command: 0-4 credit/spend (user, amount, reference,
    # memo, [key if op&4], [kind if credit]); 5-10 consume (user, tokens, [key]); 11-16 reserve
    # (user, tokens, ttl, [key]); 17-20 settle (reservation, tokens, [key]); 21-23 release
    # (reservation, [key]); 24-29 a limit change (op&1: as a SetLimits request); 30-31 the
    # expiry tick. Usage users: 0 alice, 1 bob; tokens: 0 = 1, 1 = 10, 2 = 100, 4 = 5000,
    # 5 = 9999, 7 = 10001; steps: 3 = 1 s, 8 = 60 s, 9 = 1 h, 11 = 1 day, 13 = 23 h, 14 = 40 days,
    # 15 = 400 days.
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
        "usage-consume-limit-days": bytes([3, 1,
            40, 0, 4, 3,                          # consume alice 5000
            40, 0, 4, 3,                          # and 5000 more: at the trial limit of 10000
            40, 0, 0, 3,                          # one more: DAILY_LIMIT_EXCEEDED
            45, 1, 7, 0x22, 3,                    # wire consume bob 10001, key k1: refused, remembered
            45, 1, 7, 0x22, 3,                    # the same again: replayed
            44, 1, 0, 0x22, 3,                    # another count under k1: conflict
            40, 0, 0, 11,                         # a day later: alice counts again
            42, 0, 1, 14,                         # 40 days later (UTC day as nil): records dropped
            40, 1, 2, 15]),                       # 400 days later: months dropped too
        "usage-reserve-settle-expire": bytes([3, 3,  # a second before midnight UTC
            88, 0, 4, 0, 0,                       # reserve alice 5000 (default TTL): reservation 1
            89, 0, 4, 7, 0,                       # wire reserve alice 5000, TTL 3 600 000 ms: 2
            88, 0, 0, 8, 0,                       # TTL 3 600 001 ms: TTL_OUT_OF_RANGE
            88, 0, 0, 1, 0,                       # 1 more for 1 ms: DAILY_LIMIT_EXCEEDED
            136, 0, 5, 3,                         # settle reservation 1 with 9999, after midnight
            169, 0, 3,                            # wire release reservation 2
            168, 180, 3,                          # release reservation 0: RESERVATION_NOT_FOUND
            88, 1, 2, 1, 3,                       # reserve bob 100 for 1 ms
            240, 8,                               # the tick a minute later: expires it
            140, 181, 0, 0x32, 3,                 # settle the next (unmade) id with 0, key k2
            137, 0, 13, 3,                        # wire settle with -1 tokens: AMOUNT_NEGATIVE
            91, 1, 1, 5, 9]),                     # reserve bob 10 for 60 s, an hour later
        "usage-limits-zones": bytes([7, 133,      # retention 1 day / 1 month; Europe/Berlin-like zone
            192, 0, 0x20, 5, 3,                   # tier pro: limit 100
            192, 2, 0, 0x20, 3,                   # alice's tier: pro
            40, 0, 2, 3,                          # consume alice 100: at the limit
            40, 0, 0, 3,                          # one more: refused
            192, 3, 0x20, 3,                      # tier pro in shadow mode
            40, 0, 1, 3,                          # consume alice 10: counted as a would-be refusal
            192, 7, 3,                            # remove the default tier's limit: refused
            192, 5, 0x30, 3,                      # default tier free: TIER_NOT_FOUND
            192, 0, 0x00, 9, 3,                   # tier trial: -1: LIMIT_NEGATIVE
            192, 0, 0x17, 7, 3,                   # a 65-byte tier name: FIELD_TOO_LONG
            192, 0, 0x06, 7, 3,                   # a tier name with NUL: TIER_INVALID
            192, 1, 1, 0, 3,                      # clear bob's own limit
            192, 6, 3, 3,                         # zone Pacific/Kiritimati (UTC+14)
            40, 0, 1, 13,                         # consume alice 10, 23 h later
            192, 6, 4, 3,                         # zone Pacific/Pago_Pago (UTC-11): the date goes back
            40, 0, 1, 3,                          # consume alice 10
            193, 0x63, 3,                         # SetLimits shadow naming nobody: SHADOW_TARGET_INVALID
            193, 7, 3,                            # SetLimits without a change: CHANGE_MISSING
            193, 6, 131, 3,                       # SetLimits zone "Europe Berlin": TIME_ZONE_INVALID
            193, 0x82, 0, 3,                      # SetLimits alice's tier "": back to the default
            40, 0, 1, 11, 40, 0, 1, 11, 40, 0, 1, 14]),  # consume alice 10 on later days
    },
}

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
for target, seeds in corpus.items():
    os.makedirs(os.path.join(root, target), exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(root, target, name), "wb") as f:
            f.write(data)
