#!/bin/bash
# Disk fill never touches the host's file systems. During the disk-full
# drill (its volume filled to 100%), free space on / and on the file system
# holding the state directory drops by no more than the blocks the lab
# volume's image really occupies (it is sparse: du shows its allocation)
# plus a small margin for other activity on the box; the fill itself is
# inside the volume (same device as the mount point, not /). After the drill
# the image is gone and the host's free space is back within the margin.
. "$(dirname "$0")/../e2e/lib.sh"
need_root
MARGIN_MIB=${MARGIN_MIB:-64} # other engineers' builds share this disk

free_mib() { df --output=avail -m "$1" | tail -1 | tr -dc 0-9; }

mkdir -p "$CHAOSLAB_STATE"
state=$(realpath "$CHAOSLAB_STATE")
root0=$(free_mib /)
state0=$(free_mib "$state")

drill_bg disk-full
wait_state running 90
vol="$state/lab/spool"
img="$state/lab/spool.img"
[ -f "$img" ] || die "no image at $img"
use=$(df --output=pcent "$vol" | tail -1 | tr -dc 0-9)
[ "$use" -ge 98 ] || die "the volume is at ${use}%, not full"
root1=$(free_mib /)
state1=$(free_mib "$state")
img_alloc=$(( $(du -k "$img" | cut -f1) / 1024 ))
img_size=$(( $(stat -c %s "$img") / 1048576 ))
note "image: ${img_size} MiB apparent, ${img_alloc} MiB allocated (sparse)"
note "free on /: ${root0} -> ${root1} MiB; on the state fs: ${state0} -> ${state1} MiB"

# Where the fill landed: on the volume's device, not on /.
f=$(find "$vol" -xdev -name '*.part' | head -1)
[ -n "$f" ] || die "no fill file in $vol"
[ "$(stat -c %d "$f")" = "$(stat -c %d "$vol")" ] || die "the fill file is not on the volume"
[ "$(stat -c %d "$f")" != "$(stat -c %d /)" ] || die "the fill file is on /"
[ "$(stat -c %d "$vol")" != "$(stat -c %d "$state")" ] || die "the volume is not a separate file system"

same_fs=0
[ "$(stat -c %d "$state")" = "$(stat -c %d /)" ] && same_fs=1
for pair in "/ $root0 $root1" "$state $state0 $state1"; do
	set -- $pair
	drop=$(($2 - $3))
	allowed=$MARGIN_MIB
	# The image lives on the state directory's file system; on / only
	# when that is the same file system.
	if [ "$1" = "$state" ] || [ $same_fs = 1 ]; then
		allowed=$((img_alloc + MARGIN_MIB))
	fi
	[ $drop -le $allowed ] || die "free space on $1 dropped by $drop MiB (allowed $allowed)"
	note "$1: dropped $drop MiB, allowed $allowed"
done
# The image is sparse: it never takes more than the volume's size.
[ "$img_alloc" -le "$img_size" ] || die "the image takes more than its size"

"$CHAOSLAB_BIN" giveup >/dev/null || die "giveup failed"
drill_wait
[ ! -e "$img" ] || die "the image is left after the drill"
root2=$(free_mib /)
state2=$(free_mib "$state")
note "after: / ${root2} MiB, state fs ${state2} MiB free"
[ $((root0 - root2)) -le $MARGIN_MIB ] || die "/ did not get its space back: $root0 -> $root2"
[ $((state0 - state2)) -le $MARGIN_MIB ] || die "the state fs did not get its space back"
assert_clean
echo "PASS: the fill stayed on the lab volume; host free space changed only by the image"
