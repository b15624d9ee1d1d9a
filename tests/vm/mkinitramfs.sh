#!/usr/bin/env bash
# Build the VM test's initramfs: busybox (static), the qdisc driver and
# iproute2's ip and tc with the shared libraries they need (from ldd), the
# kernel modules sch_netem and veth (and whatever modules.dep says they
# need) of kernel RELEASE, iproute2's netem distribution tables, and
# tests/vm/init.sh as /init.
#
#   tests/vm/mkinitramfs.sh OUT.cpio.gz DRIVER RELEASE
#
# Needs: busybox (its cpio makes the archive), gzip, ldd, ip, tc, and
# /lib/modules/RELEASE (Debian: linux-image-amd64). Does not need root.
set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 OUT.cpio.gz DRIVER RELEASE" >&2
	exit 2
fi
out=$1 driver=$2 release=$3
here=$(cd "$(dirname "$0")" && pwd)
moddir=/lib/modules/$release

die() { echo "mkinitramfs: $*" >&2; exit 1; }

busybox=$(command -v busybox) || die "no busybox (apt-get install busybox-static)"
[ -x "$driver" ] || die "no driver at $driver"
[ -f "$moddir/modules.dep" ] || die "no $moddir/modules.dep (the kernel's modules)"
ip=$(command -v ip || echo /usr/sbin/ip)
tc=$(command -v tc || echo /usr/sbin/tc)
[ -x "$ip" ] && [ -x "$tc" ] || die "no ip or tc (apt-get install iproute2)"

stage=$(mktemp -d "${TMPDIR:-/tmp}/chaoslab-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,usr/lib/tc,lib/modules,lib64,proc,sys,dev,run,tmp,etc,var}

# A binary and every library ldd names, at the same paths.
copy_with_libs() {
	local bin=$1 dest=$2 lib
	cp -L "$bin" "$stage/$dest"
	# A static binary has none (and ldd then fails).
	for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
		[ -e "$lib" ] || continue
		mkdir -p "$stage$(dirname "$lib")"
		[ -e "$stage$lib" ] || cp -L "$lib" "$stage$lib"
	done
}

copy_with_libs "$busybox" bin/busybox
for applet in $("$busybox" --list); do
	[ -e "$stage/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
done
copy_with_libs "$driver" bin/qdisc_driver
# iproute2's own ip and tc replace busybox's smaller applets (init.sh
# calls them by path: busybox sh runs its applets before searching PATH).
rm -f "$stage/bin/ip" "$stage/bin/tc"
copy_with_libs "$ip" usr/sbin/ip
copy_with_libs "$tc" usr/sbin/tc

# netem's distribution tables, wherever this iproute2 keeps them.
for d in /usr/lib/*/tc /usr/lib/tc /usr/lib64/tc; do
	[ -d "$d" ] || continue
	cp "$d"/*.dist "$stage/usr/lib/tc/" 2>/dev/null || true
done

# Modules in load order: dependencies first (modules.dep lists them).
: >"$stage/lib/modules/order"
add_module() {
	local name=$1 line path deps dep base
	line=$(grep -E "(^|/)$name\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -1) ||
		die "module $name is not in $moddir/modules.dep"
	path=${line%%:*}
	deps=${line#*:}
	for dep in $deps; do
		base=$(basename "$dep")
		add_module "${base%%.ko*}"
	done
	grep -qx "$name" "$stage/lib/modules/order" && return 0
	case "$path" in
	*.ko) cp "$moddir/$path" "$stage/lib/modules/$name.ko" ;;
	*.ko.xz) xz -dc "$moddir/$path" >"$stage/lib/modules/$name.ko" ;;
	*.ko.zst) zstd -qdc "$moddir/$path" >"$stage/lib/modules/$name.ko" ;;
	*.ko.gz) gzip -dc "$moddir/$path" >"$stage/lib/modules/$name.ko" ;;
	*) die "unknown module file $path" ;;
	esac
	echo "$name" >>"$stage/lib/modules/order"
}
for m in veth sch_netem; do
	# Built in: nothing to load.
	if grep -qE "(^|/)$m\.ko" "$moddir/modules.builtin" 2>/dev/null; then
		continue
	fi
	add_module "$m"
done

cp "$here/init.sh" "$stage/init"
chmod 755 "$stage/init"

(cd "$stage" && find . -mindepth 1 | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -1 >"$out"
echo "mkinitramfs: $out ($(du -h "$out" | cut -f1), modules: $(tr '\n' ' ' <"$stage/lib/modules/order"))"
