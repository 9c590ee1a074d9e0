#!/usr/bin/env python3
"""Check KFL-triggered recording against tshark.

  check_kfl_record.py INPUT.pcap OUT/live|MERGED.pcap 'TSHARK-DISPLAY-FILTER' [--truncated PORT ...]

The conversations recorded must be exactly those in which tshark finds a
frame matching the display filter (the kflcap filter's equivalent), and each
must be whole: every packet of the conversation in the input, byte-identical
with its timestamp, nothing else. A conversation listed with --truncated (by
a port) was longer than the retention bounds: it must be a subset that still
holds the TCP handshake and everything from the match on.
"""
import collections
import ipaddress
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaplib  # noqa: E402


def canon(proto, a, pa, b, pb):
    ends = sorted([(str(ipaddress.ip_address(a)), int(pa)), (str(ipaddress.ip_address(b)), int(pb))])
    return (proto,) + tuple(ends)


def key_of(f):
    proto, a, b, _ = f
    return canon(proto, a[0], a[1], b[0], b[1])


def main():
    src, live, flt = sys.argv[1], sys.argv[2], sys.argv[3]
    trunc_ports = {int(p) for p in sys.argv[5:]} if sys.argv[4:5] == ["--truncated"] else set()
    out = subprocess.run(["tshark", "-n", "-r", src, "-Y", flt, "-T", "fields", "-E", "separator=|",
                          "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst",
                          "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "udp.srcport", "-e", "udp.dstport"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("tshark failed: " + out.stderr)
    want = set()
    for line in out.stdout.splitlines():
        f = line.split("|")
        a, b = (f[0], f[1]) if f[0] else (f[2], f[3])
        a, b = a.split(",")[-1], b.split(",")[-1]
        if f[4]:
            want.add(canon(6, a, f[4].split(",")[0], b, f[5].split(",")[0]))
        elif f[6]:
            want.add(canon(17, a, f[6].split(",")[0], b, f[7].split(",")[0]))
    conv = collections.defaultdict(list)
    for ts, d, _, _ in pcaplib.read_pcap(src):
        f = pcaplib.flow_of(d)
        if f and f[0] != "frag":
            conv[key_of(f)].append((ts, d))
    fails, passes = [], 0
    ours = {}
    if os.path.isdir(live):
        for name in sorted(n for n in os.listdir(live) if n.endswith(".pcap")):
            recs = [(ts, d) for ts, d, _, _ in pcaplib.read_pcap(os.path.join(live, name))]
            flows = {key_of(pcaplib.flow_of(d)) for _, d in recs if pcaplib.flow_of(d)}
            if len(flows) != 1:
                fails.append(f"{name}: {len(flows)} conversations")
                continue
            # A reused four-tuple gives one file per connection.
            ours.setdefault(flows.pop(), []).extend(recs)
    else:
        # One merged capture (kflcap-query -w): group it by conversation,
        # and it must be in time order.
        merged = [(ts, d) for ts, d, _, _ in pcaplib.read_pcap(live)]
        if [ts for ts, _ in merged] != sorted(ts for ts, _ in merged):
            fails.append("merged capture is not in time order")
        for ts, d in merged:
            f = pcaplib.flow_of(d)
            if f and f[0] != "frag":
                ours.setdefault(key_of(f), []).append((ts, d))
    if set(ours) != want:
        fails.append(f"recorded {len(ours)} conversations, tshark says {len(want)}: "
                     f"extra {sorted(set(ours) - want)[:3]}, missing {sorted(want - set(ours))[:3]}")
    else:
        passes += 1
    for k, recs in ours.items():
        full = conv.get(k, [])
        if k[1][1] in trunc_ports or k[2][1] in trunc_ports:
            ok = (collections.Counter(recs) <= collections.Counter(full) and len(recs) < len(full)
                  and all(p in recs for p in full[:3]) and recs[-1] == full[-1])
            msg = f"{k}: truncated stream must keep its handshake and its end ({len(recs)} of {len(full)})"
        else:
            ok = collections.Counter(recs) == collections.Counter(full)
            msg = f"{k}: recorded {len(recs)} packets, the conversation has {len(full)}"
        if ok:
            passes += 1
        else:
            fails.append(msg)
    for m in fails:
        print("FAIL:", m)
    print(f"{len(ours)} recorded conversations checked against tshark filter '{flt}'")
    print(f"{passes} passed, {len(fails)} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
