#!/bin/sh
# /init of the VM test's initramfs (busybox sh). Brings up a lab-like
# network with iproute2 (namespace vmlab, veth clab-vmlab <-> eth0), loads
# sch_netem, then drives chaoslab's netem injector and qdisc verifier
# through qdisc_driver and checks each effect with tools chaoslab did not
# write: iproute2's tc and busybox's ping. Prints "VMTEST: ..." progress,
# then one "VMTEST PASS ..." or "VMTEST FAIL: ..." line the host greps, and
# powers off.
#
# Kernel command line: chaoslab.mode=test (default) or bench, and for bench
# chaoslab.iter=N (default 200).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp

mode=test
iter=200
for w in $(cat /proc/cmdline); do
	case "$w" in
	chaoslab.mode=*) mode=${w#chaoslab.mode=} ;;
	chaoslab.iter=*) iter=${w#chaoslab.iter=} ;;
	esac
done

# iproute2's, not busybox's applets of the same names (which this busybox
# sh would run first).
ip() { /usr/sbin/ip "$@"; }
tc() { /usr/sbin/tc "$@"; }

say() { echo "VMTEST: $*"; }
finish() {
	sync
	poweroff -f
	sleep 10
}
fail() {
	echo "VMTEST FAIL: $*"
	finish
}

# The smallest and average round trip of 10 pings to the lab end, in ms:
# "MIN AVG".
rtt() {
	ping -c 10 -i 0.2 -W 3 10.99.0.2 >/tmp/ping.out 2>&1 || { cat /tmp/ping.out; return 1; }
	sed -n 's|.*min/avg/max = \([0-9.]*\)/\([0-9.]*\)/.*|\1 \2|p' /tmp/ping.out
}

# ms as an integer (ping prints 0.123).
int() { echo "${1%%.*}"; }

# The driver, with its output shown.
drv() {
	qdisc_driver "$@" >/tmp/drv.out 2>&1
	rc=$?
	sed 's/^/  | /' /tmp/drv.out
	return $rc
}

echo
say "kernel $(uname -r), mode $mode"
for m in $(cat /lib/modules/order); do
	insmod /lib/modules/$m.ko || fail "insmod $m"
done
ip link set lo up
ip netns add vmlab || fail "ip netns add"
ip link add clab-vmlab type veth peer name eth0 netns vmlab || fail "veth pair"
ip addr add 10.99.0.1/30 dev clab-vmlab
ip link set clab-vmlab up
ip -n vmlab link set lo up
ip -n vmlab addr add 10.99.0.2/30 dev eth0
ip -n vmlab link set eth0 up
export CHAOSLAB_NETNS=vmlab
sleep 1

if [ "$mode" = bench ]; then
	say "bench: $iter rounds of netem apply + revert on clab-vmlab"
	qdisc_driver bench "$iter" netem '{"delay_ms": 100}' clab-vmlab - \
		netem delay 100ms limit 15000 >/tmp/bench.out 2>&1 ||
		{ cat /tmp/bench.out; fail "bench"; }
	sed 's/^/VMBENCH /' /tmp/bench.out
	echo "VMTEST PASS bench"
	finish
fi

# 1. Baseline.
r=$(rtt) || fail "no baseline ping to the lab"
set -- $r
base_min=$1 base_avg=$2
say "baseline rtt min $base_min ms avg $base_avg ms"

# 2. netem delay 100 ms on the lab veth's host end, the injector's default.
drv apply netem '{"delay_ms": 100}' /tmp/u1.json || fail "netem apply"
tc qdisc show dev clab-vmlab >/tmp/tc.out
say "tc: $(cat /tmp/tc.out)"
grep -q 'qdisc netem c1ab: root' /tmp/tc.out || fail "tc does not show netem c1ab: on clab-vmlab"
grep -q 'delay 100ms' /tmp/tc.out || fail "tc does not show delay 100ms"
grep -q 'limit 15000' /tmp/tc.out || fail "tc does not show the sized limit 15000"
drv check '{"state": "present", "kind": "netem"}' || fail "qdisc verifier does not see netem"
grep -q 'met: netem c1ab: delay 100ms limit 15000 on clab-vmlab' /tmp/drv.out ||
	fail "qdisc verifier observation: $(cat /tmp/drv.out)"
r=$(rtt) || fail "no ping with netem"
set -- $r
d_min=$1 d_avg=$2
added=$(($(int "$d_avg") - $(int "$base_avg")))
say "with netem: rtt min $d_min ms avg $d_avg ms (+$added ms)"
[ "$(int "$d_min")" -ge 100 ] || fail "rtt min $d_min ms with a 100 ms delay"
[ "$added" -ge 90 ] && [ "$added" -le 160 ] || fail "netem added $added ms, not about 100"

# 3. Revert: gone, for tc and for the verifier; the rtt is back.
drv revert netem /tmp/u1.json || fail "netem revert"
grep -q 'deleted netem c1ab: from clab-vmlab' /tmp/drv.out || fail "revert report"
tc qdisc show dev clab-vmlab >/tmp/tc.out
grep -q netem /tmp/tc.out && fail "netem still there after revert: $(cat /tmp/tc.out)"
drv check '{"state": "absent"}' || fail "qdisc verifier still sees a qdisc of ours"
r=$(rtt) || fail "no ping after revert"
set -- $r
r_avg=$2
say "after revert: rtt avg $r_avg ms"
[ "$(int "$r_avg")" -lt 50 ] || fail "rtt still $r_avg ms after revert"
drv revert netem /tmp/u1.json || fail "second revert"
grep -q 'nothing to undo' /tmp/drv.out || fail "second revert was not a no-op"

# 4. The lab end, with the rate libnl cannot express (TCA_NETEM_RATE) and loss.
drv apply netem '{"delay_ms": 10, "rate": "1mbit", "loss_percent": 1, "end": "lab"}' /tmp/u2.json ||
	fail "netem apply on the lab end"
ip netns exec vmlab tc qdisc show dev eth0 >/tmp/tc.out
say "tc in vmlab: $(cat /tmp/tc.out)"
for want in 'netem c1ab: root' 'delay 10ms' 'loss 1%' 'rate 1Mbit'; do
	grep -q "$want" /tmp/tc.out || fail "tc in the lab does not show '$want'"
done
tc qdisc show dev clab-vmlab | grep -q netem && fail "netem on the host end too"
# Read back over netlink, the rate included.
drv check '{"state": "present", "end": "lab"}' || fail "qdisc verifier does not see the lab end"
grep -q 'met: netem c1ab: delay 10ms loss 1% rate 1Mbit limit 1000 on eth0 in netns vmlab' \
	/tmp/drv.out || fail "qdisc verifier observation: $(cat /tmp/drv.out)"
drv revert netem /tmp/u2.json || fail "revert on the lab end"
ip netns exec vmlab tc qdisc show dev eth0 | grep -q netem && fail "netem left on the lab end"

# 5. Jitter with a distribution table, correlation, reorder with gap,
#    duplicate, corrupt.
with='{"delay_ms": 50, "jitter_ms": 10, "delay_correlation": 25, "distribution": "normal",'
with="$with"' "reorder_percent": 25, "gap": 5, "duplicate_percent": 1, "corrupt_percent": 0.5}'
drv apply netem "$with" /tmp/u3.json || fail "netem apply with jitter, distribution, reorder"
tc qdisc show dev clab-vmlab >/tmp/tc.out
say "tc: $(cat /tmp/tc.out)"
for want in 'delay 50ms  10ms 25%' 'reorder 25%' 'gap 5' 'duplicate 1%' 'corrupt 0.5%'; do
	grep -q "$want" /tmp/tc.out || fail "tc does not show '$want'"
done
drv revert netem /tmp/u3.json || fail "revert of the jitter netem"

# 6. A root qdisc that is not ours: refused, named, and left alone by revert.
tc qdisc add dev clab-vmlab root handle 1: netem delay 5ms || fail "tc qdisc add (foreign)"
drv apply netem '{"delay_ms": 100}' /tmp/u4.json && fail "netem replaced a foreign root qdisc"
grep -q 'refusing to replace the root qdisc of clab-vmlab (netem 1: delay 5ms' /tmp/drv.out ||
	fail "refusal does not name the foreign qdisc"
drv revert netem /tmp/u4.json || fail "revert after a refused apply"
tc qdisc show dev clab-vmlab | grep -q 'netem 1: root' || fail "the foreign qdisc was touched"
tc qdisc del dev clab-vmlab root

# 7. A host interface without allow_host_interface: refused.
drv apply netem '{"delay_ms": 100, "interface": "lo"}' /tmp/u5.json &&
	fail "netem on lo was not refused"
grep -q 'refusing to touch host interface lo: set allow_host_interface: true' /tmp/drv.out ||
	fail "refusal of lo"
tc qdisc show dev lo | grep -q netem && fail "lo was touched"

echo "VMTEST PASS netem: rtt $base_avg ms, with delay 100ms $d_avg ms (+$added ms)," \
	"after revert $r_avg ms"
finish
