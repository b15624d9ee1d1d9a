#!/bin/bash
# How closely does dd-writer's throughput mode hold mib_per_second, next to
# dd and stress-ng held to the same rate by other means? For each target
# (5, 20, 50 MiB/s by default) it writes to a scratch ext4 volume (a sparse
# image, loop-mounted) with, one after the other:
#
#   dd-writer     the chaoslab binary re-executed as a dd-writer worker, as a
#                 drill runs it (seccomp lockdown included): paced in user
#                 space, fsync after every chunk
#   dd | pv -L    `dd if=/dev/zero | pv -q -L RATE | dd oflag=dsync`: GNU dd
#                 has no rate option, pv limits the pipe; the second dd
#                 writes synchronously, like the fsync above
#   dd + blkio    `dd oflag=direct` in a cgroup whose write bandwidth on the
#                 loop device is capped by the kernel (v1 blkio.throttle.
#                 write_bps_device, v2 io.max wbps)
#   stress-ng     `stress-ng --hdd 1 --hdd-opts direct,wr-seq` in the same
#                 kind of capped cgroup: stress-ng has no rate option of its
#                 own either
#
# and reads the writing process's write_bytes from /proc/PID/io once a second
# for SECONDS seconds after a 1 s warm-up. It prints, per target and tool,
# the rate over the whole window and the mean absolute error of the
# one-second rates against the target.
#
# usage: tests/bench/disk_bench.sh BUILD_DIR [SECONDS] [TARGETS...]
# Needs root (loop devices, mount, cgroups), BUILD_DIR/chaoslab, mkfs.ext4;
# pv and stress-ng are optional (their rows show "-").
set -u

usage() { echo "usage: $0 BUILD_DIR [SECONDS] [TARGET_MIB_PER_S...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
BUILD=$1
WINDOW=${2:-10}
shift $(($# >= 2 ? 2 : 1))
TARGETS=${*:-5 20 50}
BIN="$BUILD/chaoslab"
[ -x "$BIN" ] || { echo "$0: no chaoslab binary in '$BUILD'" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$0: needs root (loop devices, mount, cgroups)" >&2; exit 2; }
MIB=1048576
# dd and stress-ng write on without rewriting: room for the fastest target.
max_target=$(printf '%s\n' $TARGETS | sort -n | tail -1)
VOL_MIB=$((max_target * (WINDOW + 4) + 256))

TMP=$(mktemp -d /tmp/chaoslab-disk-bench.XXXXXX)
MNT="$TMP/mnt"
CG=""
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	[ -n "$CG" ] && [ -d "$CG" ] && rmdir "$CG" 2>/dev/null
	mountpoint -q "$MNT" && umount "$MNT"
	rm -rf "$TMP"
}
trap cleanup EXIT

truncate -s ${VOL_MIB}M "$TMP/vol.img"
mkfs.ext4 -q -F -m 0 -b 4096 -T default -E lazy_itable_init=0,lazy_journal_init=0 "$TMP/vol.img"
mkdir "$MNT"
mount -o loop,nosuid,nodev,noexec "$TMP/vol.img" "$MNT" || { echo "$0: cannot loop-mount" >&2; exit 1; }
LOOP=$(findmnt -rn -o SOURCE --mountpoint "$MNT")
MAJMIN=$(lsblk -dn -o MAJ:MIN "$LOOP" | tr -d ' ')

# A cgroup with a kernel write cap on the loop device, for the tools that
# cannot pace themselves. Prints its path, or nothing.
make_capped_cgroup() { # RATE_BYTES
	local root="" v
	if [ -d /sys/fs/cgroup/blkio ] && [ -f /sys/fs/cgroup/blkio/blkio.throttle.write_bps_device ]; then
		root=/sys/fs/cgroup/blkio v=1
	elif grep -qw io /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
		root=/sys/fs/cgroup v=2
	fi
	[ -n "$root" ] || return 0
	local cg="$root/chaoslab-disk-bench-$$"
	mkdir -p "$cg" || return 0
	if [ $v = 1 ]; then
		echo "$MAJMIN $1" >"$cg/blkio.throttle.write_bps_device" || { rmdir "$cg"; return 0; }
	else
		echo "$MAJMIN wbps=$1" >"$cg/io.max" || { rmdir "$cg"; return 0; }
	fi
	echo "$cg"
}

wbytes() { awk '/^write_bytes:/ { print $2 }' "/proc/$1/io" 2>/dev/null; }

now() { local up; read -r up _ </proc/uptime; echo "$up"; }

# measure PID TARGET: "RATE MAE" (MiB/s, MiB/s), or "- -" when pid is gone.
measure() {
	local pid=$1 target=$2 i t0 b0 t b tp bp samples=""
	sleep 1
	t0=$(now); b0=$(wbytes "$pid")
	[ -n "$b0" ] || { echo "- -"; return; }
	tp=$t0 bp=$b0
	for ((i = 0; i < WINDOW; i++)); do
		sleep 1
		t=$(now); b=$(wbytes "$pid")
		[ -n "$b" ] || { echo "- -"; return; }
		samples+="$tp $bp $t $b"$'\n'
		tp=$t bp=$b
	done
	awk -v mib=$MIB -v target="$target" -v t0="$t0" -v b0="$b0" -v t1="$t" -v b1="$b" '
		NF == 4 && $3 > $1 {
			r = ($4 - $2) / mib / ($3 - $1); e = r - target
			sum += (e < 0 ? -e : e); n++
		}
		END { printf "%.2f %.2f\n", (b1 - b0) / mib / (t1 - t0), n ? sum / n : -1 }' <<<"$samples"
}

stop() { kill "$@" 2>/dev/null; wait "$@" 2>/dev/null; rm -f "$MNT"/bench.*; }

run_ddwriter() { # TARGET
	local rate=$(($1 * MIB)) chunk pid out
	chunk=$((rate / 20 / 4096 * 4096))
	[ $chunk -lt 65536 ] && chunk=65536
	[ $chunk -gt $MIB ] && chunk=$MIB
	CHAOSLAB_WORKER=dd-writer \
	CHAOSLAB_WORKER_ARGS="{\"mode\":\"throughput\",\"path\":\"$MNT/bench.ddw\",\"rate\":$rate,\"chunk\":$chunk,\"sync\":\"fsync\",\"file_bytes\":$((64 * MIB))}" \
	CHAOSLAB_OWNER="bench:$$" \
		bash -c 'exec -a ddbench "$0"' "$BIN" &
	pid=$!
	out=$(measure "$pid" "$1")
	stop "$pid"
	echo "$out"
}

run_dd_pv() { # TARGET
	command -v pv >/dev/null || { echo "- -"; return; }
	local out ddpid
	dd if=/dev/zero bs=1M status=none | pv -q -L "${1}m" |
		dd of="$MNT/bench.pv" bs=1M iflag=fullblock oflag=dsync status=none &
	sleep 0.3
	ddpid=$(pgrep -n -f "of=$MNT/bench.pv")
	[ -n "$ddpid" ] || { echo "- -"; return; }
	out=$(measure "$ddpid" "$1")
	pkill -f "of=$MNT/bench.pv"; pkill -f "pv -q -L ${1}m"; pkill -f "dd if=/dev/zero bs=1M status=none"
	wait 2>/dev/null
	rm -f "$MNT"/bench.*
	echo "$out"
}

run_dd_capped() { # TARGET
	local out pid
	CG=$(make_capped_cgroup $(($1 * MIB)))
	[ -n "$CG" ] || { echo "- -"; return; }
	bash -c 'echo $$ >"$0/cgroup.procs" && exec dd if=/dev/zero of="$1" bs=1M count=100000 oflag=direct status=none' \
		"$CG" "$MNT/bench.dd" &
	pid=$!
	out=$(measure "$pid" "$1")
	stop "$pid"
	rmdir "$CG"; CG=""
	echo "$out"
}

run_stress_capped() { # TARGET
	command -v stress-ng >/dev/null || { echo "- -"; return; }
	local out parent child="" i
	CG=$(make_capped_cgroup $(($1 * MIB)))
	[ -n "$CG" ] || { echo "- -"; return; }
	bash -c 'echo $$ >"$0/cgroup.procs" && cd "$1" && exec stress-ng --hdd 1 --hdd-opts direct,wr-seq --hdd-bytes 128M --hdd-write-size 1M --timeout $2s --quiet' \
		"$CG" "$MNT" $((WINDOW + 5)) &
	parent=$!
	for ((i = 0; i < 50; i++)); do
		sleep 0.1
		child=$(pgrep -P "$parent" | head -n1)
		[ -n "$child" ] && break
	done
	if [ -z "$child" ]; then out="- -"; else out=$(measure "$child" "$1"); fi
	stop "$parent"
	rm -rf "$MNT"/tmp-stress-ng* 2>/dev/null
	sleep 0.5
	rmdir "$CG"; CG=""
	echo "$out"
}

echo "disk writer accuracy: ${WINDOW} s window after 1 s warm-up, 1 s samples of" \
	"/proc/PID/io write_bytes; ext4 on $LOOP (${VOL_MIB} MiB sparse image)"
read -r la _ </proc/loadavg
echo "load average at start: $la"
printf '\n%-7s | %-19s | %-19s | %-19s | %-19s\n' "" "dd-writer (fsync)" "dd | pv -L (dsync)" \
	"dd direct + blkio" "stress-ng + blkio"
printf '%-7s | %-8s %-10s | %-8s %-10s | %-8s %-10s | %-8s %-10s\n' "target" "rate" "MAE(1s)" \
	"rate" "MAE(1s)" "rate" "MAE(1s)" "rate" "MAE(1s)"
printf -- '--------+---------------------+---------------------+---------------------+--------------------\n'
for target in $TARGETS; do
	read -r a1 a2 <<<"$(run_ddwriter "$target")"
	read -r b1 b2 <<<"$(run_dd_pv "$target")"
	read -r c1 c2 <<<"$(run_dd_capped "$target")"
	read -r d1 d2 <<<"$(run_stress_capped "$target")"
	printf '%-7s | %-8s %-10s | %-8s %-10s | %-8s %-10s | %-8s %-10s\n' "$target" \
		"$a1" "$a2" "$b1" "$b2" "$c1" "$c2" "$d1" "$d2"
done
echo
echo "rate: MiB/s over the window; MAE(1s): mean absolute error of the one-second rates" \
	"against the target, MiB/s. '-': tool missing or no cgroup write cap available."
