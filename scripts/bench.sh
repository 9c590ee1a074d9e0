#!/bin/bash
# Benchmarks, each against a baseline run in the same invocation (machines are
# shared and noisy: report medians and ratios, not absolute truths).
#
#   1. packets/s of one kflcap worker core (decode + flow table, recording off)
#      next to dpdk-testpmd --forward-mode=rxonly on the same in-memory input
#      (net_pcap infinite_rx=1);
#   2. the micro-benchmarks of lib/ (flow table, KFL) where built.
# Writes docs/performance.md (BENCH_OUT to override).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BUILD=${BUILD:-$root/build}
[ -x "$BUILD/app/kflcap/kflcap" ] || BUILD=$BUILD "$root/scripts/build.sh" -Dbuildtype=release
runs=${BENCH_RUNS:-5}
secs=${BENCH_SECS:-6}
out=${BENCH_OUT:-$root/docs/performance.md}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 tests/integration/gen_traffic.py "$work/mix.pcap" --flows 3000 --seed 11
npk=$(capinfos -c -M "$work/mix.pcap" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
# The same generator at 1000 flows: a replay set a third the size, which the
# VM's caches hold better, so less of each packet's cost is the PMD's copy
# (testpmd's own rate on each input shows the difference).
python3 tests/integration/gen_traffic.py "$work/mix1k.pcap" --flows 1000 --seed 11
npk1=$(capinfos -c -M "$work/mix1k.pcap" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
if grep -q hugetlbfs /proc/mounts && [ "$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)" -ge 512 ]; then
  mem=(-m 1024); memnote="hugepages"
else
  mem=(--no-huge -m 1024); memnote="--no-huge (no hugepages available)"
fi
vdev="net_pcap0,rx_pcap=$work/mix.pcap,infinite_rx=1"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

# testpmd keeps its default burst of 32 although kflcap asks for 128: on
# this input testpmd is slower at 128 (8.6 against 13-19 Mpps, measured
# 2026-11-27), and the baseline should be the PMD at its best.
testpmd_pps() {
  timeout -s INT "$secs" dpdk-testpmd -l 0-1 --no-pci --file-prefix kc_bench_tp --in-memory "${mem[@]}" --vdev "$vdev" \
    --log-level=lib.eal:error -- --forward-mode=rxonly --stats-period 1 --nb-cores=1 2>/dev/null |
    awk '/Rx-pps:/ {print $2}' | tail -n +2 | median || true
}

kflcap_pps() {
  # "$@": extra kflcap options; the input is $vdev.
  timeout -s INT "$((secs + 1))" "$BUILD/app/kflcap/kflcap" -l 0-1 --no-pci --file-prefix kc_bench_kc --in-memory "${mem[@]}" \
    --vdev "$vdev" --log-level=lib.eal:error -- --out "$work/out" --status-interval 1 "$@" 2>/dev/null |
    awk '/^kflcap: rx/ {print $3}' |
    awk 'NR>1 {print $1 - prev} {prev=$1}' | tail -n +2 | median || true
}

# The L7 mix: generated HTTP/1.1 keep-alive streams plus real DNS and TLS
# (captures whose frames fit one mbuf: net_pcap infinite_rx needs that).
python3 tests/integration/gen_http.py "$work/http.pcap" --streams 2500 --seed 5 > /dev/null
mergecap -F pcap -w "$work/l7.pcap" "$work/http.pcap" tests/data/record/zeek-dns-long-connection.pcap \
  tests/data/record/suricata-dns-tcp-multirequest-buffer.pcap tests/data/record/zeek-tls13-ech.pcap \
  tests/data/record/zeek-wikipedia.pcap
nl7=$(capinfos -c -M "$work/l7.pcap" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
# Offline comparison on a larger capture of the same kind (start-up amortised).
python3 tests/integration/gen_http.py "$work/qhttp.pcap" --streams 10000 --seed 6 > /dev/null
mergecap -F pcap -w "$work/q.pcap" "$work/qhttp.pcap" tests/data/record/zeek-dns-long-connection.pcap \
  tests/data/record/suricata-dns-tcp-multirequest-buffer.pcap tests/data/record/zeek-tls13-ech.pcap \
  tests/data/record/zeek-tls-chrome-1250-x25519-kyber.pcap tests/data/record/zeek-wikipedia.pcap
nq=$(capinfos -c -M "$work/q.pcap" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')

tp=() kc=() tp1=() kc1=() kd=() kq=() ts=()
for i in $(seq "$runs"); do
  tp+=("$(testpmd_pps)")
  kc+=("$(kflcap_pps --no-dissect)")
  vdev="net_pcap0,rx_pcap=$work/mix1k.pcap,infinite_rx=1"
  tp1+=("$(testpmd_pps)")
  kc1+=("$(kflcap_pps --no-dissect)")
  vdev="net_pcap0,rx_pcap=$work/l7.pcap,infinite_rx=1"
  kd+=("$(kflcap_pps --kfl 'http and response.status == 599' --mbufs 131071)")
  vdev="net_pcap0,rx_pcap=$work/mix.pcap,infinite_rx=1"
  echo "run $i: testpmd rxonly ${tp[-1]} pps, kflcap decode+flow ${kc[-1]} pps; 1000 flows: testpmd ${tp1[-1]}, kflcap ${kc1[-1]} pps; dissect+kfl ${kd[-1]} pps" >&2
  s0=$(date +%s%N); "$BUILD/app/query/kflcap-query" -q --kfl 'http and response.status == 500' -r "$work/q.pcap" > /dev/null
  s1=$(date +%s%N); tshark -n -r "$work/q.pcap" -Y 'http.response.code == 500' > /dev/null 2>&1
  s2=$(date +%s%N)
  kq+=("$(( (s1 - s0) / 1000000 ))"); ts+=("$(( (s2 - s1) / 1000000 ))")
  echo "run $i: kflcap-query ${kq[-1]} ms, tshark ${ts[-1]} ms" >&2
done
tpm=$(printf '%s\n' "${tp[@]}" | median)
kcm=$(printf '%s\n' "${kc[@]}" | median)
tpm1=$(printf '%s\n' "${tp1[@]}" | median)
kcm1=$(printf '%s\n' "${kc1[@]}" | median)
kdm=$(printf '%s\n' "${kd[@]}" | median)
kqm=$(printf '%s\n' "${kq[@]}" | median)
tsm=$(printf '%s\n' "${ts[@]}" | median)
ratio=$(awk -v a="$kcm" -v b="$tpm" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
ratio1=$(awk -v a="$kcm1" -v b="$tpm1" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
dratio=$(awk -v a="$kdm" -v b="$kcm" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
qratio=$(awk -v a="$tsm" -v b="$kqm" 'BEGIN {printf "%.1f", (b > 0 ? a / b : 0)}')

micro=""
if [ -x "$BUILD/tests/unit/flow/bench_flow" ]; then
  micro+=$'\n### lib/flow: decode + flow lookup, in memory (bench_flow)\n\n```\n'"$("$BUILD/tests/unit/flow/bench_flow" 2>&1 | tail -5)"$'\n```\n'
fi
if [ -x "$BUILD/tests/unit/engine/bench_engine" ]; then
  micro+=$'\n### lib/engine: the worker\'s engine without the PMD, in memory (bench_engine)\n\n'
  micro+=$'What a worker core spends per packet besides the PMD\'s copy: the same inputs\n'
  micro+=$'as above, replayed from memory in bursts of 32 (`bench_engine FILE --mode flow|full`).\n\n```\n'
  micro+="$("$BUILD/tests/unit/engine/bench_engine" "$work/mix.pcap" --mode flow 2>&1 | grep 'ns/packet')"$'\n'
  micro+="$("$BUILD/tests/unit/engine/bench_engine" "$work/l7.pcap" --mode full 2>&1 | grep 'ns/packet')"$'\n```\n'
fi
if [ -x "$BUILD/tests/unit/kfl/bench_kfl" ]; then
  micro+=$'\n### lib/kfl: ns per evaluation (bench_kfl)\n\n```\n'"$("$BUILD/tests/unit/kfl/bench_kfl" 2>&1 | tail -20)"$'\n```\n'
fi

cat > "$out" <<MD
# Performance

Made by \`scripts/bench.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $memnote).
Medians of $runs runs of ${secs} s; each kflcap figure is measured next to its
baseline in the same invocation, so read the ratio more than the absolute
numbers: this is a shared 2-core VM, not a tuned capture host.

## Packets per second, one worker core

Input: a generated mix ($npk packets, 3000 TCP/UDP conversations over IPv4/IPv6,
VLAN/QinQ, fragments; \`tests/integration/gen_traffic.py --flows 3000 --seed 11\`)
replayed from memory by \`net_pcap\` with \`infinite_rx=1\`. The PMD copies
every packet into a fresh mbuf, which is a large part of both figures.

| what | command | packets/s (median) |
|---|---|---|
| baseline: testpmd rxonly | \`dpdk-testpmd -l 0-1 --no-pci --vdev $vdev -- --forward-mode=rxonly --nb-cores=1\` | $tpm |
| kflcap, decode + flow table, recording off | \`kflcap -l 0-1 --no-pci --vdev ... -- --no-dissect --status-interval 1\` | $kcm |
| ratio kflcap / testpmd | | $ratio |

Per-run figures: testpmd ${tp[*]}; kflcap ${kc[*]}.

The same generator at 1000 flows (\`--flows 1000 --seed 11\`, $npk1 packets): a
replay set a third the size, which this VM's caches hold better. testpmd's
rate on each input shows how much of a packet's cost is the PMD's copy from
the replay set; on this one, kflcap's figure is mostly kflcap's own work (the
same 10 Mpps target applies):

| what | packets/s (median) |
|---|---|
| baseline: testpmd rxonly | $tpm1 |
| kflcap, decode + flow table, recording off | $kcm1 |
| ratio kflcap / testpmd | $ratio1 |

Per-run figures: testpmd ${tp1[*]}; kflcap ${kc1[*]}.

## With dissection: reassembly, HTTP/DNS/TLS items, KFL on every item

Input: $nl7 packets: 2500 generated HTTP/1.1 keep-alive streams
(\`tests/integration/gen_http.py --streams 2500 --seed 5\`) merged with the
corpus' DNS, TLS and browsing captures, replayed the same way. The filter
matches nothing, so every packet is decoded, reassembled, dissected, judged
and retained (bounded), and nothing is written.

| what | packets/s (median) |
|---|---|
| kflcap \`--kfl 'http and response.status == 599'\` | $kdm |
| ratio to decode + flow table above | $dratio |

Per-run figures: ${kd[*]}.

## Offline: kflcap-query -r against tshark

$nq packets: 10000 generated HTTP/1.1 keep-alive streams (one in five
with a 500; \`gen_http.py --streams 10000 --seed 6\`) merged with the same
DNS, TLS and browsing captures. Filter \`http and response.status == 500\`
(every match printed as a JSON item) against \`tshark -Y
'http.response.code == 500'\` (one summary line per match); wall time, ms.

| tool | ms (median) |
|---|---|
| \`kflcap-query --kfl 'http and response.status == 500' -r q.pcap\` | $kqm |
| \`tshark -n -r q.pcap -Y 'http.response.code == 500'\` | $tsm |
| tshark / kflcap-query | ${qratio}x |

Per-run figures: kflcap-query ${kq[*]}; tshark ${ts[*]}.

## Against the targets

| target | measured here | |
|---|---|---|
| decode + flow table >= 10 Mpps per worker core, 3000-flow mix | $kcm pps (testpmd rxonly alone: $tpm) | $(awk -v a="$kcm" 'BEGIN {print (a >= 10000000 ? "met" : "not met on this VM")}') |
| decode + flow table >= 10 Mpps per worker core, 1000-flow mix | $kcm1 pps (testpmd rxonly alone: $tpm1) | $(awk -v a="$kcm1" 'BEGIN {print (a >= 10000000 ? "met" : "not met on this VM")}') |
| with dissection >= 5 Mpps per worker core | $kdm pps | $(awk -v a="$kdm" 'BEGIN {print (a >= 5000000 ? "met" : "not met on this VM")}') |
| KFL < 50 ns for \`http\`, \`http and response.status == 500\`, \`startsWith\` | see bench_kfl below | |
| kflcap-query >= 20x tshark | ${qratio}x | $(awk -v a="$qratio" 'BEGIN {print (a >= 20 ? "met" : "not met")}') |

Reading the packet-rate figures: the PMD copies every packet from its replay
set (\`infinite_rx\`), which costs about 1/testpmd of a second per packet
before kflcap sees it, and on a shared VM that cost moves with the host (on
the 2-core VM these figures were first made on, testpmd alone measured 8.6 to
25 Mpps on the 3000-flow mix within one afternoon, 2026-11-27). A packet's
budget at 10 Mpps is 100 ns; kflcap's own share is roughly 1/kflcap -
1/testpmd. The in-memory micro-benchmark below (no PMD) shows the decode +
flow lookup alone.
$micro
MD
echo "wrote $out" >&2
