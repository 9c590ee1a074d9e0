#!/usr/bin/env python3
"""Compare kflcap's item log with tshark's view of the same capture.

  check_items.py INPUT.pcap ITEMS.jsonl [--http] [--dns] [--tls] [--h2]

--http  every HTTP/1 request (method, URI, Host) and response code tshark
        decodes is an item of ours, and no more (multisets);
--dns   DNS/mDNS queries (name, type) and the A/AAAA answers of responses;
--tls   the SNI of every ClientHello;
--h2    HTTP/2 requests (:method, :path) and response :status
        (--h2-port=N: decode that port as HTTP/2, as the corpus truth does).
--http-subset  as --http, but kflcap may find more than tshark (captures
        with gaps, after which tshark stops and kflcap resynchronises).
"""
import collections
import json
import subprocess
import sys


def tshark(path, flt, fields, extra=()):
    args = ["tshark", "-n", "-r", path, *extra, "-Y", flt, "-T", "fields", "-E", "separator=|",
            "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"tshark failed: {out.stderr}")
    return [line.split("|") for line in out.stdout.splitlines()]


def load_items(path):
    items = []
    with open(path) as f:
        for line in f:
            items.append(json.loads(line))
    return items


fails = []
passes = 0


def compare(what, theirs, ours, subset=False):
    """Equal multisets; with subset, everything tshark decodes must be ours
    (used where tshark gives up after a gap and kflcap resynchronises)."""
    global passes
    t, o = collections.Counter(theirs), collections.Counter(ours)
    if t == o or (subset and t <= o):
        passes += 1
        print(f"ok: {what}: {sum(t.values())} equal")
    else:
        fails.append(what)
        print(f"FAIL: {what}: tshark {sum(t.values())}, kflcap {sum(o.values())}; "
              f"only tshark {list((t - o).items())[:4]}; only kflcap {list((o - t).items())[:4]}")


def check_http(pcap, items, subset=False):
    reqs = tshark(pcap, "http.request", ["http.request.method", "http.request.uri", "http.host"])
    theirs = [(m, u, h.split(",")[0]) for m, u, h in reqs]
    ours = []
    for it in items:
        if it["protocol"]["abbr"] != "HTTP":
            continue
        r = it.get("request", {})
        if "method" in r:
            ours.append((r["method"], r["url"], r.get("headers", {}).get("Host", "").split(",")[0]))
    compare("HTTP requests (method, uri, host)", theirs, ours, subset)
    codes = [int(c[0]) for c in tshark(pcap, "http.response", ["http.response.code"])]
    ours = [it["response"]["status"] for it in items
            if it["protocol"]["abbr"] == "HTTP" and it.get("response", {}).get("status")]
    # tshark shows interim 1xx responses (100 Continue); items hold final ones.
    compare("HTTP response codes", [c for c in codes if c >= 200 or c == 101],
            [c for c in ours if c >= 200 or c == 101], subset)


def check_dns(pcap, items):
    """Queries: one item per transaction, so tshark's retransmitted queries
    (same id and name) count once. Answers: every A/AAAA address of every
    response (tshark joins several messages of one frame)."""
    rows = tshark(pcap, "dns or mdns", ["dns.flags.response", "dns.id", "dns.qry.name", "dns.a", "dns.aaaa"],
                  ["-d", "udp.port==5353,mdns"])
    theirs_q, seen, theirs_a = [], set(), []
    for resp, ids, names, a, aaaa in rows:
        for r, i, n in zip(resp.split(","), ids.split(","), names.split(",")):
            if r in ("0", "False", "false") and n and (i, n) not in seen:
                seen.add((i, n))
                theirs_q.append(n)
        theirs_a += [x for x in (a.split(",") + aaaa.split(",")) if x]
    ours_q, ours_a = [], []
    for it in items:
        if it["protocol"]["abbr"] != "DNS":
            continue
        if it.get("requestSize", 0) > 0:
            ours_q += [q["name"] for q in it.get("request", {}).get("questions", [])]
        if it.get("responseSize", 0) > 0:
            for sect in ("answers", "authorities", "additionals"):
                ours_a += [r["ip"] for r in it["response"].get(sect, [])
                           if r.get("type") in ("A", "AAAA") and r.get("ip")]
    compare("DNS query names (per transaction)", theirs_q, ours_q)
    compare("DNS A/AAAA addresses in responses", theirs_a, ours_a)


def check_tls(pcap, items):
    theirs = [r[0] for r in tshark(pcap, "tls.handshake.type == 1", ["tls.handshake.extensions_server_name"])]
    ours = [it.get("request", {}).get("serverName", "") for it in items if it["protocol"]["name"] == "tls"
            and it.get("requestSize", 0) > 0]
    compare("TLS ClientHello SNIs", theirs, ours)


def check_h2(pcap, items):
    extra = []
    for port in H2_PORTS:
        extra += ["-d", f"tcp.port=={port},http2"]
    rows = tshark(pcap, "http2.type == 1", ["http2.headers.method", "http2.headers.path", "http2.headers.status"],
                  extra)
    theirs_req = [(m.split(",")[0], p.split(",")[0]) for m, p, s in rows if m]
    theirs_st = [int(s.split(",")[0]) for m, p, s in rows if s]
    ours_req, ours_st = [], []
    for it in items:
        if it["protocol"]["abbr"] not in ("HTTP/2", "gRPC"):
            continue
        r, s = it.get("request", {}), it.get("response", {})
        if r.get("method"):
            ours_req.append((r["method"], r["url"]))
        if s.get("status"):
            ours_st.append(s["status"])
    # h2c Upgrade: the request travelled as HTTP/1, so tshark shows no h2
    # request HEADERS for stream 1 while the item carries it.
    compare("HTTP/2 requests (method, path)", theirs_req, ours_req, subset=True)
    compare("HTTP/2 response :status", theirs_st, ours_st)


H2_PORTS = []


def main():
    pcap, items_path = sys.argv[1], sys.argv[2]
    for a in sys.argv[3:]:
        if a.startswith("--h2-port="):
            H2_PORTS.append(a.split("=", 1)[1])
    items = load_items(items_path)
    opts = set(sys.argv[3:])
    if "--http" in opts or "--http-subset" in opts:
        check_http(pcap, items, "--http-subset" in opts)
    if "--dns" in opts:
        check_dns(pcap, items)
    if "--tls" in opts:
        check_tls(pcap, items)
    if "--h2" in opts:
        check_h2(pcap, items)
    print(f"{passes} passed, {len(fails)} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
