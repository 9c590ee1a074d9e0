# Sourced by the live tests: a veth pair whose far end VS sits in network
# namespace NS (both made here, by the test, and nowhere else), near end VC
# with NET.1/24 in this namespace, far end NET.2/24. Offloads are off: veth
# hands af_packet TSO/GSO super-frames, a span port delivers wire-sized ones.
#   kc_veth_up NS VC VS NET      (NET like "10.77.3.", exits 77 if impossible)
kc_veth_up() {
  local ns=$1 vc=$2 vs=$3 net=$4
  ip netns add "$ns" || { echo "SKIP: cannot create a network namespace"; exit 77; }
  ip link add "$vc" type veth peer name "$vs" || { echo "SKIP: cannot create veth"; exit 77; }
  ip link set "$vs" netns "$ns"
  sysctl -qw "net.ipv6.conf.$vc.disable_ipv6=1" || true
  ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$vs.disable_ipv6=1" || true
  ip addr add "${net}1/24" dev "$vc"; ip link set "$vc" up
  ip netns exec "$ns" ip addr add "${net}2/24" dev "$vs"
  ip netns exec "$ns" ip link set "$vs" up
  ip netns exec "$ns" ip link set lo up
  ethtool -K "$vc" tso off gso off gro off >/dev/null 2>&1
  ip netns exec "$ns" ethtool -K "$vs" tso off gso off gro off >/dev/null 2>&1
}
