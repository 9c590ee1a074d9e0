#!/usr/bin/env python3
"""Generate HTTP/1.1 keep-alive conversations with chosen response codes.

  gen_http.py OUT.pcap [--streams N] [--seed S]

Stream kinds (all interleaved in time, so many are open at once):
  ok        every response 200
  late500   the 10th of 12 responses is a 500 (a stream that matches late)
  long500   a 500 after 300 packets of 200s (longer than small retention bounds)
  chunked500 one chunked 500 response split over several segments
Every stream opens with a handshake and ends with FIN/FIN. Port 8080 or 80.
Prints "<client-port> <kind>" per stream on stdout.
"""
import argparse
import random
import struct
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
from gen_traffic import Capture, eth, ipv4, tcp  # noqa: E402


class Conv:
    def __init__(self, cap, rng, cport, sport, t0):
        self.cap, self.rng = cap, rng
        self.c = bytes([10, 1, cport >> 8, cport & 0xFF])
        self.s = bytes([10, 2, 0, 1])
        self.cp, self.sp = cport, sport
        self.cs, self.ss = rng.randrange(2**32), rng.randrange(2**32)
        self.t = t0

    def pkt(self, from_client, flags, data=b""):
        self.t += self.rng.randrange(20, 400)
        if from_client:
            seg = tcp(self.cp, self.sp, self.cs, self.ss, flags, data)
            self.cap.add(self.t, eth(ipv4(self.c, self.s, 6, seg), 0x0800))
            self.cs = (self.cs + len(data) + (1 if flags & 0x03 else 0)) % 2**32
        else:
            seg = tcp(self.sp, self.cp, self.ss, self.cs, flags, data)
            self.cap.add(self.t, eth(ipv4(self.s, self.c, 6, seg), 0x0800))
            self.ss = (self.ss + len(data) + (1 if flags & 0x03 else 0)) % 2**32

    def open(self):
        self.pkt(True, 0x02)
        self.pkt(False, 0x12)
        self.pkt(True, 0x10)

    def close(self):
        self.pkt(True, 0x11)
        self.pkt(False, 0x11)
        self.pkt(True, 0x10)

    def exchange(self, status, path, chunked=False):
        req = f"GET {path} HTTP/1.1\r\nHost: svc.test\r\nUser-Agent: gen/1\r\n\r\n".encode()
        self.pkt(True, 0x18, req)
        body = (f'{{"status":{status},"path":"{path}"}}' * 3).encode()
        reason = {200: "OK", 500: "Internal Server Error"}[status]
        if chunked:
            head = f"HTTP/1.1 {status} {reason}\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
            raw = head.encode() + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:10], body[10:])) + b"0\r\n\r\n"
            for i in range(0, len(raw), 37):
                self.pkt(False, 0x18, raw[i:i + 37])
        else:
            head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\nContent-Type: application/json\r\n\r\n"
            self.pkt(False, 0x18, head.encode() + body)
        self.pkt(True, 0x10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--streams", type=int, default=400)
    ap.add_argument("--seed", type=int, default=3)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    cap = Capture()
    base = 1_700_000_000_000_000
    for i in range(a.streams):
        kind = ["ok", "ok", "ok", "late500", "chunked500"][i % 5]
        if i == 7:
            kind = "long500"
        c = Conv(cap, rng, 20000 + i, rng.choice([80, 8080]), base + rng.randrange(0, 3_000_000))
        c.open()
        if kind == "ok":
            for k in range(rng.randrange(1, 5)):
                c.exchange(200, f"/ok/{i}/{k}")
        elif kind == "late500":
            for k in range(12):
                c.exchange(500 if k == 9 else 200, f"/late/{i}/{k}")
        elif kind == "chunked500":
            c.exchange(200, f"/c/{i}/0")
            c.exchange(500, f"/c/{i}/1", chunked=True)
        else:
            for k in range(100):
                c.exchange(200, f"/long/{i}/{k}")
            c.exchange(500, f"/long/{i}/x")
            c.exchange(200, f"/long/{i}/y")
        c.close()
        print(20000 + i, kind)
    cap.write(a.out)


if __name__ == "__main__":
    main()
