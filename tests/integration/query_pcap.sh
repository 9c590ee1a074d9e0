#!/bin/bash
# kflcap-query -r: the recorder's engine offline (no EAL).
#  1. items of a capture equal tshark's decode (check_items.py);
#  2. the same filters give the same answers on struct items (-r) and on
#     their JSON rendering (--items on the -r output);
#  3. gzip input and directory input give the same items as the plain file;
#  4. -w writes exactly the whole streams with a matching item, time-ordered.
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
"$q" -q --kfl 'http and (' -r "$data/zeek-wikipedia.pcap" > /dev/null 2>&1; [ $? -eq 1 ] && ok || ko "bad filter exit status"
"$q" -q -r /nonexistent.pcap > /dev/null 2>&1; [ $? -eq 1 ] && ok || ko "missing file exit status"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
