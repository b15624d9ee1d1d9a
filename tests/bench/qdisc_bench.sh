#!/usr/bin/env bash
# Apply + revert latency of chaoslab's qdisc injectors against tc, in the
# same run: tbf (the bandwidth injector) here, netem in the VM of tests/vm/
# (this machine's kernel may lack sch_netem).
#
#   tests/bench/qdisc_bench.sh BUILD_DIR [ITERATIONS]    (default 200)
#
# BUILD_DIR must hold chaoslab's qdisc_driver (tests/vm/CMakeLists.txt);
# build it without sanitizers for figures worth quoting. Needs root for the
# tbf part (a throwaway network namespace with a veth pair, made with
# iproute2), and qemu-system-x86, linux-image-amd64 and busybox-static for
# the netem part (skipped, saying why, without them).
set -euo pipefail

build=${1:?usage: $0 BUILD_DIR [ITERATIONS]}
iter=${2:-200}
src=$(cd "$(dirname "$0")/../.." && pwd)
driver=$(cd "$build" && pwd)/qdisc_driver
[ -x "$driver" ] || { echo "qdisc_bench: no $driver (build the qdisc_driver target)" >&2; exit 2; }
case "$iter" in '' | *[!0-9]*) echo "qdisc_bench: ITERATIONS must be a number" >&2; exit 2 ;; esac

echo "== tbf on this machine ($(uname -r)), $iter rounds each"
if [ "$(id -u)" != 0 ]; then
	echo "skipped: needs root (network namespaces, qdiscs)"
else
	ns="clqb$$"
	host_if="clab-$ns"
	cleanup() { ip link del "$host_if" 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; }
	trap cleanup EXIT
	ip netns add "$ns"
	ip link add "$host_if" type veth peer name eth0 netns "$ns"
	ip link set "$host_if" up
	ip -n "$ns" link set eth0 up
	export CHAOSLAB_NETNS=$ns
	echo "-- the lab veth's host end ($host_if)"
	"$driver" bench "$iter" bandwidth '{"rate": "1mbit", "burst": "32kb", "latency_ms": 100}' \
		"$host_if" - tbf rate 1mbit burst 32kb latency 100ms
	echo "-- the lab end (eth0 inside the namespace: a socket opened in it each time)"
	"$driver" bench "$iter" bandwidth '{"rate": "1mbit", "burst": "32kb", "latency_ms": 100, "end": "lab"}' \
		eth0 "$ns" tbf rate 1mbit burst 32kb latency 100ms
	cleanup
	trap - EXIT
fi

echo
echo "== netem in a VM (qemu, TCG), $iter rounds each"
. "$src/tests/vm/lib.sh"
export CHAOSLAB_QDISC_DRIVER=$driver
if ! vm_prepare; then
	echo "skipped: $VM_SKIP_REASON"
	exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/chaoslab-qdisc-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bash "$src/tests/vm/mkinitramfs.sh" "$tmp/initrd.gz" "$driver" "$VM_RELEASE" >/dev/null
echo "-- kernel $VM_RELEASE, the lab veth's host end"
vm_boot "$tmp/initrd.gz" "$tmp/console.log" 900 chaoslab.mode=bench "chaoslab.iter=$iter" || true
if ! grep -aq '^VMTEST PASS bench' "$tmp/console.log"; then
	tail -n 40 "$tmp/console.log" | tr -d '\r'
	echo "qdisc_bench: the VM bench failed" >&2
	exit 1
fi
grep -a '^VMBENCH ' "$tmp/console.log" | sed 's/^VMBENCH //' | tr -d '\r'
