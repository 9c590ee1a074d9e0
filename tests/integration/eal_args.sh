# Shared EAL arguments for tests: a private prefix per process (meson runs
# tests in parallel), in-memory mode (no files under /var/run/dpdk), and
# hugepages when the machine has free ones, else --no-huge (said so).
# Usage: . eal_args.sh NAME   → sets EAL_MEM (array)
kc_free_hugepages() {
  awk '/HugePages_Free/ {print $2}' /proc/meminfo
}
if [ "$(kc_free_hugepages)" -ge 256 ] 2>/dev/null && grep -q hugetlbfs /proc/mounts; then
  EAL_MEM=(--in-memory -m 256)
else
  echo "note: no free hugepages mounted; running with --no-huge" >&2
  EAL_MEM=(--no-huge -m 512)
fi
EAL_PREFIX="kc_test_$1_$$"
