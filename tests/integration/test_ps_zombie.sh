#!/bin/bash
# zombie-forker as the engineer sees it, through the real ps: the children of
# the forker show state Z under the scenario's name, killing a zombie does
# nothing, and after revert neither the forker nor a zombie is left.
# Drives the injector with tests/unit/test_zombie_forker --drive (it applies,
# prints the forker's pid, reverts on "revert").
set -u

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

[ -n "${CHAOSLAB_BUILD:-}" ] || skip "CHAOSLAB_BUILD is not set (run through ctest)"
[ -n "${CHAOSLAB_BIN:-}" ] || skip "CHAOSLAB_BIN is not set (run through ctest)"
DRIVER="$CHAOSLAB_BUILD/tests/test_zombie_forker"
[ -x "$DRIVER" ] || skip "the driver $DRIVER is not built"
command -v ps >/dev/null || skip "ps (procps) is not installed"

NAME="zps$$"
NAME="${NAME:0:15}"
COUNT=5

coproc DRIVE { exec "$DRIVER" --drive "$NAME" "$COUNT"; }
DRIVER_PID=$DRIVE_PID
IN=${DRIVE[1]}
OUT=${DRIVE[0]}
cleanup() { kill "$DRIVER_PID" 2>/dev/null; wait "$DRIVER_PID" 2>/dev/null; }
trap cleanup EXIT

read -r -t 20 -u "$OUT" PARENT || fail "the driver printed no forker pid"
[[ "$PARENT" =~ ^[0-9]+$ ]] || fail "the driver printed '$PARENT', not a pid"

# The forker itself: sleeping, named NAME.
comm=$(ps -o comm= -p "$PARENT") || fail "ps does not see the forker $PARENT"
[ "$comm" = "$NAME" ] || fail "ps shows the forker as '$comm', wanted '$NAME'"
stat=$(ps -o stat= -p "$PARENT")
case "$stat" in
S*) ;;
*) fail "the forker's state is '$stat', wanted S (sleeping)" ;;
esac

# Its children: COUNT zombies, named NAME, shown as <defunct>.
zombies=$(ps -o stat=,comm= --ppid "$PARENT" | awk -v n="$NAME" '$1 ~ /^Z/ && $2 == n' | wc -l)
[ "$zombies" -eq "$COUNT" ] || {
	ps -o pid,stat,comm,args --ppid "$PARENT"
	fail "ps shows $zombies zombies named $NAME under $PARENT, wanted $COUNT"
}
others=$(ps -o stat= --ppid "$PARENT" | grep -vc '^Z')
[ "$others" -eq 0 ] || fail "$others children of the forker are not zombies"
ps -o args= --ppid "$PARENT" | grep -q "<defunct>" || fail "ps does not mark the zombies <defunct>"
echo "ps sees $zombies zombies (state Z) named $NAME under forker $PARENT"

# Killing a zombie does nothing: it is already dead.
victim=$(ps -o pid= --ppid "$PARENT" | head -n1 | tr -d ' ')
kill -KILL "$victim"
sleep 0.3
stat=$(ps -o stat= -p "$victim") || fail "zombie $victim vanished after SIGKILL"
case "$stat" in
Z*) echo "kill -9 $victim left it a zombie, as it should" ;;
*) fail "zombie $victim has state '$stat' after SIGKILL" ;;
esac

echo revert >&"$IN"
read -r -t 20 -u "$OUT" REPORT || fail "the driver printed no revert report"
echo "revert: $REPORT"
case "$REPORT" in
"stopped 1 forker process, releasing $COUNT zombies to their reaper") ;;
*) fail "unexpected revert report '$REPORT'" ;;
esac
wait "$DRIVER_PID" || fail "the driver failed"
trap - EXIT

ps -p "$PARENT" >/dev/null && fail "the forker $PARENT is still there after revert"
left=$(ps -e -o stat=,comm= | awk -v n="$NAME" '$2 == n' | wc -l)
[ "$left" -eq 0 ] || {
	ps -e -o pid,ppid,stat,comm | awk -v n="$NAME" '$4 == n'
	fail "$left processes named $NAME are left after revert"
}
echo "after revert: no forker and no zombie named $NAME"
echo PASS
