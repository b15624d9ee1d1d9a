#!/bin/bash
# Guardrail: a dd-writer fill target outside the lab volume is refused, and
# nothing is written, mounted or attached. Relative paths that climb out
# ("../..") are refused when the scenario is loaded; absolute paths outside
# the volume when the step is applied, before the volume is made. The host's
# own files are never touched.
. "$(dirname "$0")/../e2e/lib.sh"
need_root

victim=$(mktemp -u /tmp/chaoslab-guardrail.XXXXXX)
loops_before=$(losetup -a | wc -l)

# Loaded: a relative path with "..".
out=$("$CHAOSLAB_BIN" drill disk-full --plain --no-ask --set "export.path=../../../..$victim" 2>&1)
rc=$?
echo "$out" | tail -3
[ $rc != 0 ] || die "a '../' fill target was accepted"
echo "$out" | grep -q "outside the lab volume" || die "no 'outside the lab volume' refusal: $out"

# Applied: absolute paths outside the volume: a host file, the state
# directory itself, a sibling of the mount point.
state=$(mkdir -p "$CHAOSLAB_STATE" && realpath "$CHAOSLAB_STATE")
for target in "$victim" "$state/escape.dat" "$state/lab/spool-other/x.dat" "$state/lab/spool"; do
	out=$("$CHAOSLAB_BIN" drill disk-full --plain --no-ask --set "spool.path=$target" 2>&1)
	rc=$?
	echo "$out" | tail -2
	[ $rc != 0 ] || die "fill target '$target' was accepted"
	echo "$out" | grep -q "outside the lab volume\|names no file" ||
		die "no refusal for '$target': $out"
	[ ! -e "$target" ] || die "'$target' was created"
done
[ ! -e "$victim" ] || die "$victim exists"
[ "$(losetup -a | wc -l)" = "$loops_before" ] || die "loop devices changed: $(losetup -a)"
grep -q "$state" /proc/mounts && die "something is mounted under the state directory"
[ -z "$(ls -A "$state/lab" 2>/dev/null)" ] || die "files left in $state/lab: $(ls -A "$state/lab")"
[ ! -e "$CHAOSLAB_STATE/journal" ] || die "journal left behind"
echo "PASS: fill targets outside the lab volume refused, nothing touched"
