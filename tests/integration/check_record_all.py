#!/usr/bin/env python3
"""Check kflcap --record-all output against its input, with tshark as referee.

  check_record_all.py INPUT.pcap OUT/live

1. every stream pcap holds exactly one conversation, and its name says tcp/udp;
2. every packet written is a packet of the input: byte-identical, same
   timestamp, and none written twice;
3. every TCP/UDP packet of the input (as tshark sees it without IP
   reassembly, ICMP-quoted headers and malformed frames aside) was written;
4. the conversations equal tshark's (-z conv,tcp / conv,udp).
"""
import collections
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaplib  # noqa: E402

failures = []
passes = 0


def check(cond, msg):
    global passes
    if cond:
        passes += 1
    else:
        failures.append(msg)
        print("FAIL:", msg)


def tshark(args):
    out = subprocess.run(["tshark", "-n"] + args, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"tshark {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


def expected_frames(path):
    """Frame numbers (1-based) tshark calls TCP or UDP, IP reassembly off.
    First fragments are left out: they are recorded only if their datagram
    completes (the conversation check covers those)."""
    out = tshark(["-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
                  "-Y", "(tcp or udp) and not icmp and not icmpv6 and not _ws.malformed"
                  " and not ip.flags.mf == 1 and not ipv6.fraghdr.more == 1",
                  "-T", "fields", "-e", "frame.number"])
    return {int(x) for x in out.split()}


def tshark_convs(path):
    convs = set()
    for proto in ("tcp", "udp"):
        out = tshark(["-r", path, "-q", "-z", f"conv,{proto}"])
        for line in out.splitlines():
            m = re.match(r"^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s", line)
            if m:
                a = (m.group(1), int(m.group(2)))
                b = (m.group(3), int(m.group(4)))
                convs.add((proto,) + tuple(sorted([a, b])))
    return convs


def addr_text(raw):
    import ipaddress
    return str(ipaddress.ip_address(raw))


def main():
    src, live = sys.argv[1], sys.argv[2]
    # --no-conv: fuzzed captures, where tshark counts conversations of
    # malformed frames that a recorder rightly drops.
    compare_convs = "--no-conv" not in sys.argv[3:]
    inp = list(pcaplib.read_pcap(src))
    in_count = collections.Counter((ts, data) for ts, data, _, _ in inp)
    files = sorted(f for f in os.listdir(live) if f.endswith(".pcap"))
    out_count = collections.Counter()
    our_convs = set()
    for name in files:
        recs = list(pcaplib.read_pcap(os.path.join(live, name)))
        flows = {pcaplib.flow_of(d) for _, d, _, _ in recs}
        flows = {f for f in flows if f is not None and f[0] != "frag"}
        check(len(recs) > 0, f"{name}: empty stream file")
        check(len(flows) == 1, f"{name}: {len(flows)} conversations in one file")
        if len(flows) == 1:
            proto, a, b, _ = next(iter(flows))
            check(name.endswith("_tcp.pcap" if proto == 6 else "_udp.pcap"), f"{name}: wrong suffix")
            ends = sorted([(addr_text(a[0]), a[1]), (addr_text(b[0]), b[1])])
            our_convs.add(("tcp" if proto == 6 else "udp",) + tuple(ends))
        for ts, d, _, _ in recs:
            out_count[(ts, d)] += 1
    extra = out_count - in_count
    check(not extra, f"{sum(extra.values())} written packets are not input packets (bytes or timestamp differ)")
    dup = [k for k, v in out_count.items() if v > in_count.get(k, 0)]
    check(not dup, f"{len(dup)} packets written more often than they were captured")

    want = expected_frames(src)
    missing = [n for n in sorted(want) if out_count[(inp[n - 1][0], inp[n - 1][1])] == 0]
    check(not missing, f"{len(missing)} TCP/UDP input frames not written, e.g. frames {missing[:10]}")

    theirs = tshark_convs(src) if compare_convs else our_convs
    check(our_convs == theirs,
          f"conversations differ: only ours {sorted(our_convs - theirs)[:5]}, only tshark's {sorted(theirs - our_convs)[:5]}")
    if "--streams-equal" in sys.argv[3:]:
        # tshark starts a new tcp.stream for a SYN after FIN/FIN: so must we.
        n_tcp = len(set(tshark(["-r", src, "-Y", "tcp", "-T", "fields", "-e", "tcp.stream"]).split()))
        ours_tcp = sum(1 for f in files if f.endswith("_tcp.pcap"))
        check(n_tcp == ours_tcp, f"{ours_tcp} TCP stream files, tshark counts {n_tcp} TCP streams")
    print(f"{os.path.basename(src)}: {len(files)} stream files, {sum(out_count.values())} packets, "
          f"{len(want)} expected TCP/UDP frames")
    print(f"{passes} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
