# Host-side helpers for booting the VM test kernel. Source it, call
# vm_prepare (which says in VM_SKIP_REASON what is missing), then build an
# initramfs with mkinitramfs.sh and boot it with vm_boot.
#
# The kernel is Debian's (linux-image-amd64), which has sch_netem as a
# module; it boots under qemu with TCG (no KVM: it hung on the machines this
# was written on) from an initramfs tests/vm/mkinitramfs.sh builds.

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The newest /boot/vmlinuz-RELEASE whose /lib/modules/RELEASE has sch_netem
# (as a module or built in). Sets VM_KERNEL and VM_RELEASE; 1 if none.
vm_find_kernel() {
	local k rel
	VM_KERNEL= VM_RELEASE=
	for k in $(ls -v /boot/vmlinuz-* 2>/dev/null | sort -rV); do
		rel=${k#/boot/vmlinuz-}
		[ -r "$k" ] || continue
		if grep -qE '(^|/)sch_netem\.ko' "/lib/modules/$rel/modules.dep" \
			"/lib/modules/$rel/modules.builtin" 2>/dev/null; then
			VM_KERNEL=$k
			VM_RELEASE=$rel
			return 0
		fi
	done
	return 1
}

# Check what booting needs; on success 0 with VM_KERNEL, VM_RELEASE and
# VM_DRIVER set, else 1 with VM_SKIP_REASON saying what is missing and how
# to get it.
vm_prepare() {
	VM_SKIP_REASON=
	VM_DRIVER=${CHAOSLAB_QDISC_DRIVER:-${CHAOSLAB_BUILD:+$CHAOSLAB_BUILD/qdisc_driver}}
	if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
		VM_SKIP_REASON="needs qemu-system-x86_64 (apt-get install qemu-system-x86)"
	elif ! vm_find_kernel; then
		if ls /boot/vmlinuz-* >/dev/null 2>&1 && ! [ -r "$(ls /boot/vmlinuz-* | head -1)" ]; then
			VM_SKIP_REASON="cannot read /boot/vmlinuz-* (run as root)"
		else
			VM_SKIP_REASON="needs a kernel with sch_netem and its modules in /boot and"
			VM_SKIP_REASON+=" /lib/modules (apt-get install linux-image-amd64)"
		fi
	elif ! command -v busybox >/dev/null 2>&1 || ldd "$(command -v busybox)" >/dev/null 2>&1; then
		VM_SKIP_REASON="needs a static busybox (apt-get install busybox-static)"
	elif ! command -v tc >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1; then
		VM_SKIP_REASON="needs iproute2 (ip and tc) to copy into the VM"
	elif [ -z "$VM_DRIVER" ] || ! [ -x "$VM_DRIVER" ]; then
		VM_SKIP_REASON="no qdisc_driver built (tests/vm/CMakeLists.txt builds it when"
		VM_SKIP_REASON+=" tests/CMakeLists.txt has add_subdirectory(vm))"
	fi
	[ -z "$VM_SKIP_REASON" ]
}

# vm_boot INITRD LOG TIMEOUT_S [KERNEL ARGS...]: boot VM_KERNEL with INITRD,
# its console into LOG. Returns qemu's (or timeout's: 124) status.
vm_boot() {
	local initrd=$1 log=$2 limit=$3
	shift 3
	timeout --kill-after=5 "$limit" qemu-system-x86_64 -accel tcg -m 512 -smp 1 \
		-nographic -no-reboot -nodefaults -serial stdio \
		-kernel "$VM_KERNEL" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 quiet $*" </dev/null >"$log" 2>&1
}
