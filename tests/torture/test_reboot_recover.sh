#!/bin/bash
# Recovery with nothing but the journal (reboot.py): drills covering every
# kind of change are killed with every process of theirs; once as after a
# reboot (namespaces, mounts, loop devices and cgroups gone too, the journal
# carrying another boot id), once on the same boot. Decoy processes take
# every pid the journal names; `chaoslab recover` must leave them alone and
# clean up what remains (audit.py).
: "${CHAOSLAB_BIN:?CHAOSLAB_BIN must point at the chaoslab binary}"
: "${CHAOSLAB_SRC:?CHAOSLAB_SRC must point at the source tree}"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (drills change the machine)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
dir=$(dirname "$0")
python3 "$dir/reboot.py" --reboot || exit $?
exec python3 "$dir/reboot.py"
