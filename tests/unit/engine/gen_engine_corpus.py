#!/usr/bin/env python3
"""Seed inputs for fuzz_engine (the record layout is in fuzz_engine.c).

Run from this folder: python3 gen_engine_corpus.py  (writes corpus/*)."""
import os

SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


def rec(flow, from_server, flags, payload=b"", tick=False, seq=0, clock=0):
    op = flow | (from_server << 2) | (tick << 3) | (seq << 4) | (clock << 6)
    out = b""
    while True:  # payloads over 255 bytes go as several segments
        part, payload = payload[:255], payload[255:]
        out += bytes([op, flags, len(part)]) + part
        if not payload:
            return out


def handshake(flow):
    return rec(flow, 0, SYN) + rec(flow, 1, SYN | ACK) + rec(flow, 0, ACK)


def close(flow):
    return rec(flow, 0, FIN | ACK) + rec(flow, 1, FIN | ACK) + rec(flow, 0, ACK)


REQ = b"GET /x HTTP/1.1\r\nHost: a.example\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
DNSQ = bytes.fromhex("1234010000010000000000000161076578616d706c650000010001")
DNSR = bytes.fromhex("1234818000010001000000000161076578616d706c650000010001"
                     "c00c000100010000003c00040a000001")

SEEDS = {
    "http_close": bytes([0x01]) + handshake(0) + rec(0, 0, PSH | ACK, REQ) + rec(0, 1, PSH | ACK, RESP)
    + close(0),
    "http_match_record_all": bytes([0x0a]) + handshake(0) + rec(0, 0, PSH | ACK, REQ)
    + rec(0, 1, PSH | ACK, RESP, tick=True) + close(0),
    "l4_and_rst": bytes([0x03]) + handshake(2) + rec(2, 0, PSH | ACK, b"\x7f" * 300) + rec(2, 1, RST)
    + rec(2, 1, PSH | ACK, b"more after rst"),
    "dns_udp": bytes([0x04]) + rec(3, 0, 0, DNSQ) + rec(3, 1, 0, DNSR, tick=True, clock=2),
    "reorder_gap_tight": bytes([0x32]) + handshake(0) + rec(0, 0, PSH | ACK, REQ[:10], seq=2)
    + rec(0, 0, PSH | ACK, REQ[10:], seq=1) + rec(0, 1, PSH | ACK, RESP, clock=1)
    + rec(0, 1, FIN | ACK, clock=3) + rec(0, 0, FIN | ACK, tick=True),
    "evict_many": bytes([0x45]) + b"".join(handshake(f) + rec(f, 0, PSH | ACK, REQ, tick=True)
                                            for f in (0, 1, 2, 0, 1, 2)),
}

os.makedirs("corpus", exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join("corpus", name), "wb") as f:
        f.write(data)
