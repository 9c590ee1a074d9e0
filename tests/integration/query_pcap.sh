#!/bin/bash
# kflcap-query -r: the recorder's engine offline (no EAL).
#  1. items of a capture equal tshark's decode (check_items.py);
#  2. the same filters give the same answers on struct items (-r) and on
#     their JSON rendering (--items on the -r output);
#  3. gzip input and directory input give the same items as the plain file;
#  4. -w writes exactly the whole streams with a matching item, time-ordered;
#  5. the direct reader of classic pcap files (big- and little-endian, micro-
#     and nanosecond, plain and gzip, damaged) gives what libpcap gives for
#     the same packets (read as pcapng, which goes through libpcap).
#   query_pcap.sh KFLCAP-QUERY
set -uo pipefail
q=$1
here=$(cd "$(dirname "$0")" && pwd)
data=$here/../data/record
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass+1)); }
ko() { fail=$((fail+1)); echo "FAIL: $*"; }

"$q" -q -r "$data/zeek-wikipedia.pcap" > "$work/all.jsonl" || ko "-r exit status"
python3 "$here/check_items.py" "$data/zeek-wikipedia.pcap" "$work/all.jsonl" --http --dns > "$work/c.txt" && ok || { ko "items vs tshark"; cat "$work/c.txt"; }

"$q" -q -r "$data/ndpi-http-ipv6.pcap" -r "$data/zeek-tls13-ech.pcap" -r "$data/suricata-dns-tcp-multirequest-buffer.pcap" \
  -r "$data/packt-grpc-bidi-streaming.eth.pcap" >> "$work/all.jsonl"
for f in 'http' 'dns' 'tls' 'http and response.status == 304' 'request.path.startsWith("/wikipedia")' \
         'dns and response.code == "Non-Existent Domain"' 'request.headers["User-Agent"].contains("Firefox")' \
         'tls and request.serverName == r"cloudflare.*"' 'grpc' 'tcp and dst.port == 443' 'elapsedTime > 50' \
         'request.questions.*.name == r"google[.]com$"' '(http and response.status >= 300) or dns'; do
  a=$("$q" -q --kfl "$f" -r "$data/zeek-wikipedia.pcap" -r "$data/ndpi-http-ipv6.pcap" -r "$data/zeek-tls13-ech.pcap" \
       -r "$data/suricata-dns-tcp-multirequest-buffer.pcap" -r "$data/packt-grpc-bidi-streaming.eth.pcap" | wc -l)
  b=$("$q" -q --kfl "$f" --items "$work/all.jsonl" | wc -l)
  if [ "$a" = "$b" ]; then ok; else ko "filter '$f': struct items $a, JSON items $b"; fi
done
[ "$("$q" -q --kfl 'dns' -r "$data/zeek-wikipedia.pcap" | wc -l)" -gt 0 ] && ok || ko "dns filter finds nothing"

gzip -c "$data/zeek-wikipedia.pcap" > "$work/w.pcap.gz"
mkdir "$work/dir"; cp "$data/zeek-wikipedia.pcap" "$work/dir/a.pcap"; echo junk > "$work/dir/notes.txt"
a=$("$q" -q -r "$data/zeek-wikipedia.pcap" | md5sum); b=$("$q" -q -r "$work/w.pcap.gz" | md5sum); c=$("$q" -q -r "$work/dir" | md5sum)
[ "$a" = "$b" ] && ok || ko "gzip input differs"
[ "$a" = "$c" ] && ok || ko "directory input differs"

python3 "$here/gen_http.py" "$work/gen.pcap" --streams 500 > /dev/null
"$q" -q --kfl 'http and response.status == 500' -r "$work/gen.pcap" -w "$work/out.pcap" --no-items || ko "-w exit status"
python3 "$here/check_kfl_record.py" "$work/gen.pcap" "$work/out.pcap" 'http.response.code == 500' > "$work/k.txt" && ok || { ko "-w streams"; tail -3 "$work/k.txt"; }
# 5. Variants of one capture: every classic form against its pcapng twin.
python3 - "$data/zeek-wikipedia.pcap" "$work" <<'PY'
import struct, sys
src = open(sys.argv[1], 'rb').read()
end = '<' if struct.unpack('<I', src[:4])[0] == 0xa1b2c3d4 else '>'
recs, off = [], 24
while off + 16 <= len(src):
    sec, usec, cl, ln = struct.unpack(end + 'IIII', src[off:off + 16])
    recs.append((sec, usec, cl, ln, src[off + 16:off + 16 + cl]))
    off += 16 + cl
def write(name, e, magic, scale, snap=262144):
    out = bytearray(struct.pack(e + 'IHHiIII', magic, 2, 4, 0, 0, snap, 1))
    for sec, usec, cl, ln, d in recs:
        out += struct.pack(e + 'IIII', sec, usec * scale, cl, ln) + d
    open(sys.argv[2] + '/' + name, 'wb').write(out)
    return out
write('be.pcap', '>', 0xa1b2c3d4, 1)
write('ns.pcap', '<', 0xa1b23c4d, 1000)
full = write('nsbe.pcap', '>', 0xa1b23c4d, 1000)
open(sys.argv[2] + '/cut.pcap', 'wb').write(full[:len(full) * 2 // 3])
PY
gzip -c "$work/nsbe.pcap" > "$work/nsbe.pcap.gz"
editcap -F pcapng "$data/zeek-wikipedia.pcap" "$work/w.pcapng"
editcap -F pcapng "$work/cut.pcap" "$work/cut.pcapng" 2> /dev/null
b=$("$q" -q -r "$work/w.pcapng" | md5sum)
[ "$a" = "$b" ] && ok || ko "pcapng (libpcap) and pcap (direct) items differ"
for v in be.pcap ns.pcap nsbe.pcap nsbe.pcap.gz; do
  b=$("$q" -q -r "$work/$v" | md5sum)
  [ "$a" = "$b" ] && ok || ko "$v: items differ from the original's"
done
a=$("$q" -q -r "$work/cut.pcapng" | md5sum); b=$("$q" -q -r "$work/cut.pcap" 2> "$work/cut.err" | md5sum)
[ "$a" = "$b" ] && ok || ko "damaged file: items differ from libpcap's reading"
grep -q "cut.pcap: truncated dump file; tried to read [0-9]* captured bytes, only got [0-9]* (read up to the damage)" \
  "$work/cut.err" && ok || { ko "damaged file message"; cat "$work/cut.err"; }
editcap -F pcapng "$work/gen.pcap" "$work/gen.pcapng"
"$q" -q --kfl 'http and response.status == 500' -r "$work/gen.pcapng" -w "$work/out2.pcap" --no-items
cmp -s "$work/out.pcap" "$work/out2.pcap" && ok || ko "-w output differs between pcap (direct) and pcapng (libpcap)"

"$q" -q --kfl 'http and (' -r "$data/zeek-wikipedia.pcap" > /dev/null 2>&1; [ $? -eq 1 ] && ok || ko "bad filter exit status"
"$q" -q -r /nonexistent.pcap > /dev/null 2>&1; [ $? -eq 1 ] && ok || ko "missing file exit status"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
