#!/bin/bash
# The crash windows the torture found in expired-cert. Apply writes the bad
# key, then the bad certificate; revert writes the original key, then the
# original certificate; each write goes through a temporary file
# (NAME.tmp.PID) renamed into place. A harness killed between two writes
# leaves a mismatched pair, and one killed inside a write leaves the
# temporary file. Recover must put the original pair back (as openssl sees
# it: the certificate's public key is the key's) and remove the temporary
# file, never keep a half because "not both files are ours".
#
# Each window is recreated exactly: the drill is killed once its bad pair is
# in place, then one file is set back to its original from the journal by
# hand (as if the second write never happened) and a temporary file of a
# dead process is put beside them.
. "$CHAOSLAB_SRC/tests/e2e/lib.sh"
need_root
command -v openssl >/dev/null || skip "no openssl"

tls="$CHAOSLAB_STATE/lab/tls"
pubkey_of_cert() { openssl x509 -noout -pubkey -in "$1" | sha256sum; }
pubkey_of_key() { openssl pkey -pubout -in "$1" | sha256sum; }

# A pid no process has now: a dead writer's.
dead_pid() {
	local p=$((RANDOM + 40000))
	while kill -0 "$p" 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}

# A clean run first: the lab CA and the healthy pair exist from then on.
drill_bg cert-expired
wait_state running 60
"$CHAOSLAB_BIN" giveup >/dev/null
drill_wait
[ "$DRILL_RC" = 1 ] || die "clean run: exit $DRILL_RC, expected 1"
crt0=$(sha256sum <"$tls/server.crt")
key0=$(sha256sum <"$tls/server.key")
rm -f "$CHAOSLAB_RESULTS"/*.json

# half FILE EXPECT: kill the drill with its bad pair in place, put FILE
# (cert or key) back from the journal, recover, expect EXPECT in its report.
half() {
	local which=$1 expect=$2 file tmp
	[ "$which" = cert ] && file=server.crt || file=server.key
	drill_bg cert-expired
	wait_state running 60
	kill -KILL "$DRILL_PID"
	drill_wait
	[ -e "$CHAOSLAB_STATE/journal" ] || die "no journal after SIGKILL"
	[ "$(sha256sum <"$tls/server.key")" != "$key0" ] || die "the bad key is not in place"
	python3 - "$CHAOSLAB_STATE/journal" "$which" "$tls/$file" <<'EOF'
import json, sys
data = None
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("step") == "cert" and (r.get("undo") or {}).get(sys.argv[2]):
        data = r["undo"][sys.argv[2]]
open(sys.argv[3], "wb").write(bytes.fromhex(data))
EOF
	[ "$which" = cert ] && [ "$(sha256sum <"$tls/server.crt")" != "$crt0" ] &&
		die "could not recreate the half-written state"
	[ "$(pubkey_of_cert "$tls/server.crt")" != "$(pubkey_of_key "$tls/server.key")" ] ||
		die "the recreated state is not a mismatched pair"
	tmp="$tls/$file.tmp.$(dead_pid)"
	head -c 100 "$tls/$file" >"$tmp"

	"$CHAOSLAB_BIN" recover | tee "$E2E_TMP/recover" || die "recover failed"
	grep -q "$expect" "$E2E_TMP/recover" || die "recover did not say '$expect'"
	[ "$(sha256sum <"$tls/server.key")" = "$key0" ] || die "server.key is not the original"
	[ "$(sha256sum <"$tls/server.crt")" = "$crt0" ] || die "server.crt is not the original"
	[ "$(pubkey_of_cert "$tls/server.crt")" = "$(pubkey_of_key "$tls/server.key")" ] ||
		die "certificate and key do not match (openssl)"
	[ ! -e "$tmp" ] || die "the temporary file $tmp of a dead writer is still there"
	assert_clean
	rm -f "$CHAOSLAB_RESULTS"/*.json
	note "$file put back by hand: recover said '$expect', the pair matches, $(basename "$tmp") removed"
}

# Apply died between its writes: our key beside the original certificate.
half cert "restored the original key"
# Revert died between its writes: the original key beside our certificate.
half key "restored the original certificate (its key was back already)"
echo "PASS: either half of a certificate change is put back by recover, its temporary file removed"
