#!/bin/bash
# The disk-full-deleted-file drill as the engineer sees it, through df, du,
# lsof and losetup (none of them ours): the lab volume is a loop device
# backed by an image in the state directory; df says it is full while du
# finds almost nothing; `lsof -a +L1 MOUNTPOINT` lists the holder, the
# scenario's logshipper, with the deleted file; SIGHUP (what the runbook
# does) gives the space back; after giving up, no loop device, mount,
# worker or file of the run is left.
. "$(dirname "$0")/../e2e/lib.sh"
need_root
for t in df du lsof losetup findmnt; do
	command -v $t >/dev/null || skip "$t is not installed"
done

drill_bg disk-full-deleted-file
wait_state running 90
run=$("$CHAOSLAB_BIN" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
RUN_IDS=$run
vol=$(findmnt -rn -o TARGET | grep "^$(realpath "$CHAOSLAB_STATE")/lab/applogs\$") ||
	die "findmnt does not list the lab volume under the state directory"
note "lab volume at $vol"

# A loop device whose backing file is our image.
src=$(findmnt -rn -o SOURCE --target "$vol")
case "$src" in /dev/loop*) ;; *) die "the volume's source is '$src', not a loop device" ;; esac
losetup -a | grep "^$src:" | grep -q "$(realpath "$CHAOSLAB_STATE")/lab/applogs.img" ||
	die "losetup -a does not show $src backed by the image: $(losetup -a)"
[ "$(findmnt -rn -o FSTYPE --target "$vol")" = ext4 ] || die "the volume is not ext4"

# df: full. du: nearly empty.
use=$(df --output=pcent "$vol" | tail -1 | tr -dc 0-9)
used_kib=$(df --output=used -k "$vol" | tail -1 | tr -dc 0-9)
du_kib=$(du -sk "$vol" | cut -f1)
note "df: ${use}% used (${used_kib} KiB); du: ${du_kib} KiB"
[ "$use" -ge 98 ] || die "df shows ${use}% used, wanted >= 98"
[ "$du_kib" -lt 1024 ] || die "du finds $du_kib KiB, wanted under 1 MiB"
[ "$used_kib" -gt $((du_kib * 100)) ] || die "df and du do not disagree"

# lsof +L1 on that file system: exactly the scenario's holder, file deleted.
lsof -n -a +L1 "$vol" >"$E2E_TMP/lsof" 2>/dev/null
cat "$E2E_TMP/lsof"
pids=$(lsof -t -a +L1 "$vol" 2>/dev/null)
[ "$(echo "$pids" | wc -w)" = 1 ] || die "lsof +L1 lists '$pids', wanted one holder"
[ "$(ps -o comm= -p "$pids")" = logshipper ] || die "the holder $pids is not logshipper"
grep -q "app/api.log (deleted)" "$E2E_TMP/lsof" || die "lsof does not show app/api.log (deleted)"
awk 'NR > 1 && $8 == 0 { found = 1 } END { exit !found }' "$E2E_TMP/lsof" ||
	die "lsof does not show link count 0"

# The runbook's fix: reload the holder.
kill -HUP "$pids"
for i in $(seq 50); do
	use=$(df --output=pcent "$vol" | tail -1 | tr -dc 0-9)
	[ "$use" -le 5 ] && break
	sleep 0.1
done
[ "$use" -le 5 ] || die "df still shows ${use}% after SIGHUP"
[ -z "$(lsof -t -a +L1 "$vol" 2>/dev/null)" ] || die "lsof +L1 still lists a holder after SIGHUP"
kill -0 "$pids" || die "the holder died on SIGHUP instead of reopening its log"
[ -f "$vol/app/api.log" ] || die "no fresh app/api.log after SIGHUP"
note "after SIGHUP: df ${use}%, fresh $(du -k "$vol/app/api.log" | cut -f1) KiB log"

# The drill sees the fix itself, reverts and exits 0.
drill_wait
[ "$DRILL_RC" = 0 ] || { cat "$E2E_TMP/drill.out"; die "the drill exited $DRILL_RC, wanted 0 (fixed)"; }
img=$(realpath "$CHAOSLAB_STATE")/lab/applogs.img
losetup -a | grep -q "$img" && die "a loop device still uses $img: $(losetup -a)"
grep -q " $vol " /proc/mounts && die "$vol is still mounted"
[ ! -e "$img" ] || die "the image $img is left"
[ ! -e "$vol" ] || die "the mount point $vol is left"
assert_clean
echo "PASS: df full, du empty, lsof +L1 names logshipper; SIGHUP frees it; nothing left"
