#!/usr/bin/env python3
"""Generate a deterministic capture of many interleaved conversations.

  gen_traffic.py OUT.pcap [--flows N] [--seed S]

TCP (handshake, data both ways, FIN/FIN or RST) and UDP conversations over
IPv4 and IPv6, some 802.1Q-tagged and some QinQ, IPv4 and IPv6 fragmented UDP
datagrams (in order and reversed), plus ARP and ICMP that a recorder must skip.
Checksums are left zero (recorders must not care). Standard library only.
"""
import argparse
import random
import struct


def eth(payload, ethertype, vlans=()):
    hdr = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01"
    tpids = [0x88A8, 0x8100] if len(vlans) == 2 else [0x8100] * len(vlans)
    for tpid, v in zip(tpids, vlans):
        hdr += struct.pack(">HH", tpid, v)
    return hdr + struct.pack(">H", ethertype) + payload


def ipv4(src, dst, proto, payload, ident=0, frag=0):
    tot = 20 + len(payload)
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, tot, ident, frag, 64, proto, 0, src, dst) + payload


def ipv6(src, dst, nh, payload):
    return struct.pack(">IHBB16s16s", 0x60000000, len(payload), nh, 64, src, dst) + payload


def tcp(sp, dp, seq, ack, flags, data=b""):
    return struct.pack(">HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + data


def udp(sp, dp, data):
    return struct.pack(">HHHH", sp, dp, 8 + len(data), 0) + data


class Capture:
    def __init__(self):
        self.recs = []

    def add(self, ts_us, frame):
        self.recs.append((ts_us, frame))

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
            for ts, fr in sorted(self.recs, key=lambda r: r[0]):
                f.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(fr), len(fr)) + fr)


def addr4(rng):
    return bytes([10, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)])


def addr6(rng):
    return b"\x20\x01\x0d\xb8" + bytes(rng.randrange(256) for _ in range(12))


def l3(rng, fam, src, dst, proto, payload):
    if fam == 4:
        return ipv4(src, dst, proto, payload, ident=rng.randrange(65536)), 0x0800
    return ipv6(src, dst, proto, payload), 0x86DD


def tcp_conv(cap, rng, t0, fam, vlans, reuse=None):
    a, b = (addr4(rng), addr4(rng)) if fam == 4 else (addr6(rng), addr6(rng))
    cp, sp = rng.randrange(1024, 65535), rng.choice([80, 443, 5432, 8080, 6379])
    if reuse is not None:  # the same addresses and ports as an earlier connection
        a, b, cp, sp = reuse
    cs, ss = rng.randrange(2**32), rng.randrange(2**32)
    t = t0
    pkts = [(a, b, cp, sp, cs, 0, 0x02, b""), (b, a, sp, cp, ss, cs + 1, 0x12, b""),
            (a, b, cp, sp, cs + 1, ss + 1, 0x10, b"")]
    cs, ss = cs + 1, ss + 1
    for _ in range(rng.randrange(1, 6)):
        req = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        rsp = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 1400)))
        pkts.append((a, b, cp, sp, cs, ss, 0x18, req))
        cs = (cs + len(req)) % 2**32
        pkts.append((b, a, sp, cp, ss, cs, 0x18, rsp))
        ss = (ss + len(rsp)) % 2**32
    if rng.random() < 0.8:
        pkts += [(a, b, cp, sp, cs, ss, 0x11, b""), (b, a, sp, cp, ss, cs + 1, 0x11, b""),
                 (a, b, cp, sp, cs + 1, ss + 1, 0x10, b"")]
    else:
        pkts.append((b, a, sp, cp, ss, cs, 0x04, b""))
    for s, d, p1, p2, seq, ack, fl, data in pkts:
        ip, et = l3(rng, fam, s, d, 6, tcp(p1, p2, seq % 2**32, ack % 2**32, fl, data))
        t += rng.randrange(50, 5000)
        cap.add(t, eth(ip, et, vlans))
    return (a, b, cp, sp), t


def udp_conv(cap, rng, t0, fam, vlans):
    a, b = (addr4(rng), addr4(rng)) if fam == 4 else (addr6(rng), addr6(rng))
    cp, sp = rng.randrange(1024, 65535), rng.choice([53, 123, 514, 9999])
    t = t0
    for i in range(rng.randrange(1, 8)):
        s, d, p1, p2 = (a, b, cp, sp) if i % 2 == 0 else (b, a, sp, cp)
        ip, et = l3(rng, fam, s, d, 17, udp(p1, p2, bytes(rng.randrange(256) for _ in range(rng.randrange(0, 600)))))
        t += rng.randrange(50, 5000)
        cap.add(t, eth(ip, et, vlans))


def frag_datagram(cap, rng, t0, fam, reverse):
    a, b = (addr4(rng), addr4(rng)) if fam == 4 else (addr6(rng), addr6(rng))
    data = udp(rng.randrange(1024, 65535), 53, bytes(rng.randrange(256) for _ in range(3000)))
    pieces = [(off, data[off:off + 1232]) for off in range(0, len(data), 1232)]
    ident = rng.randrange(65536)
    frames = []
    for i, (off, chunk) in enumerate(pieces):
        more = i < len(pieces) - 1
        if fam == 4:
            frames.append(eth(ipv4(a, b, 17, chunk, ident, (off // 8) | (0x2000 if more else 0)), 0x0800))
        else:
            fh = struct.pack(">BBHI", 17, 0, off | (1 if more else 0), ident)
            frames.append(eth(ipv6(a, b, 44, fh + chunk), 0x86DD))
    if reverse:
        frames.reverse()
    t = t0
    for fr in frames:
        t += 100
        cap.add(t, fr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--flows", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    cap = Capture()
    base = 1_700_000_000_000_000
    for i in range(args.flows):
        t0 = base + rng.randrange(0, 2_000_000)
        fam = rng.choice([4, 4, 6])
        vlans = rng.choice([(), (), (100,), (200, 300)])
        if rng.random() < 0.6:
            tcp_conv(cap, rng, t0, fam, vlans)
        else:
            udp_conv(cap, rng, t0, fam, vlans)
    # Port reuse: a second connection on the same four-tuple after FIN/FIN.
    for i in range(3):
        t0 = base + 3_000_000 + i * 1_000_000
        tup, t_end = tcp_conv(cap, rng, t0, 4, ())
        tcp_conv(cap, rng, t_end + 1000, 4, (), reuse=tup)
    for i in range(10):
        frag_datagram(cap, rng, base + rng.randrange(0, 2_000_000), rng.choice([4, 6]), i % 2 == 1)
    for i in range(20):  # ARP and ICMP echo: counted, never recorded
        cap.add(base + rng.randrange(0, 2_000_000), eth(b"\x00\x01\x08\x00\x06\x04\x00\x01" + bytes(20), 0x0806))
        cap.add(base + rng.randrange(0, 2_000_000),
                eth(ipv4(addr4(rng), addr4(rng), 1, b"\x08\x00\x00\x00\x00\x01\x00\x01" + bytes(32)), 0x0800))
    cap.write(args.out)


if __name__ == "__main__":
    main()
