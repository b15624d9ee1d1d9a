# netem end to end in a kernel that has it: boot Debian's kernel
# (linux-image-amd64) under qemu (TCG) from a busybox initramfs carrying
# qdisc_driver (chaoslab's netem injector and qdisc verifier), ip and tc;
# inside, tests/vm/init.sh applies netem delay 100 ms to a lab-like veth
# through chaoslab's netlink path, measures about +100 ms of round trip with
# ping, checks tc and the verifier see it, reverts and checks it is gone, and
# exercises the rate attribute, the lab end, a distribution table, the
# refusal of a foreign root qdisc and of a host interface. The VM prints one
# VMTEST PASS line this script looks for.
#
# Skips, saying what to install, without qemu-system-x86, linux-image-amd64
# or busybox-static. Needs no root when /boot/vmlinuz-* is readable.
set -u
. "$(dirname "$0")/lib.sh"

skip() { echo "SKIP: $*"; exit 77; }
die() { echo "FAIL: $*" >&2; exit 1; }

vm_prepare || skip "$VM_SKIP_REASON"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/chaoslab-vm.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

bash "$VM_DIR/mkinitramfs.sh" "$tmp/initrd.gz" "$VM_DRIVER" "$VM_RELEASE" ||
	die "could not build the initramfs"
echo "-- booting $VM_KERNEL (TCG)"
start=$(date +%s)
vm_boot "$tmp/initrd.gz" "$tmp/console.log" 150 chaoslab.mode=test
rc=$?
took=$(($(date +%s) - start))
grep -a '^VMTEST' "$tmp/console.log" | tr -d '\r'
if grep -aq '^VMTEST PASS' "$tmp/console.log"; then
	echo "-- VM ran for ${took}s"
	exit 0
fi
echo "---- console (last 60 lines) ----"
tail -n 60 "$tmp/console.log" | tr -d '\r'
[ "$rc" = 124 ] && die "the VM did not finish within 150 s"
die "no VMTEST PASS line (qemu exited $rc after ${took}s)"
