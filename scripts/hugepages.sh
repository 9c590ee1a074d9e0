#!/bin/bash
# Reserve and mount 2 MiB hugepages for DPDK (dpdk-hugepages.py). Where the
# kernel gives none (containers, tiny VMs), say so: kflcap and its tests then
# run with --no-huge, which is slower but complete.
set -uo pipefail
want=${KFLCAP_HUGEPAGES:-1G}
mkdir -p /dev/hugepages
if dpdk-hugepages.py -p 2M --setup "$want" >/dev/null 2>&1 && grep -q hugetlbfs /proc/mounts; then
  echo "hugepages: $(awk '/HugePages_Total/ {print $2}' /proc/meminfo) x 2 MiB reserved, mounted on /dev/hugepages"
else
  echo "hugepages: could not reserve or mount hugepages here; DPDK will run with --no-huge" >&2
  exit 1
fi
