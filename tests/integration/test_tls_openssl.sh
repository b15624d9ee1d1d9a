#!/bin/bash
# The lab TLS service and the expired-cert injector as clients see them,
# through the real `openssl s_client -verify_return_error` and
# `curl --cacert`: while a drill holds each fault (expired, hostname
# mismatch, unknown CA) both refuse the service with their own words, read
# from their own output; after the runbook's rotation with the lab CA
# (openssl commands and kill -HUP) both accept it and the drill scores the
# fix. Then SIGKILL of the harness mid-drill and `chaoslab recover` put the
# original certificate and key back byte for byte. The host's
# /etc/resolv.conf is byte-identical at the end.
export CHAOSLAB_SCENARIOS="${TMPDIR:-/tmp}/chaoslab-tls-cat.$$/scenarios"
. "$(dirname "$0")/../e2e/lib.sh"
need_root
command -v openssl >/dev/null || skip "openssl is not installed"
command -v curl >/dev/null || skip "curl is not installed"

CAT=$(dirname "$CHAOSLAB_SCENARIOS")
trap 'e2e_cleanup; rm -rf "$CAT"' EXIT
mkdir -p "$CAT/scenarios" "$CAT/runbooks"
echo "# tls-bad (test)" >"$CAT/runbooks/tls-bad.md"
cat >"$CAT/scenarios/tls-bad.yaml" <<'EOF'
id: tls-bad
title: the lab TLS service serves a bad certificate (test)
day: 26
skills: [net.tls]
difficulty: 1
par_seconds: 60
time_limit_seconds: 240
symptom_timeout_seconds: 30
stable_seconds: 2
briefing: test
lab: [tls]
inject:
  - id: cert
    type: expired-cert
    with: {mode: expired}
symptoms:
  - type: tls-cert
    with: {service: tls, expect: fail}
fixed_when:
  - type: tls-cert
    with: {service: tls, min_days: 30}
solution: ["true"]
runbook: runbooks/tls-bad.md
EOF

RESOLV_BEFORE=$(sha256sum </etc/resolv.conf)
TLS="$CHAOSLAB_STATE/lab/tls"
PORT=18443

s_client() {
	openssl s_client -connect 127.0.0.1:$PORT -servername api.lab.test -CAfile "$TLS/ca.crt" \
		-verify_return_error -verify_hostname api.lab.test </dev/null >"$E2E_TMP/s_client" 2>&1
}
curl_health() {
	curl -sS --max-time 5 --cacert "$TLS/ca.crt" --resolve api.lab.test:$PORT:127.0.0.1 \
		https://api.lab.test:$PORT/health >"$E2E_TMP/curl" 2>&1
}

# The rotation of the runbooks (runbooks/cert-expired.md), verbatim.
rotate() (
	cd "$TLS" || exit 1
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out new.key 2>/dev/null &&
		openssl req -new -key new.key -subj /CN=api.lab.test -out new.csr &&
		printf 'subjectAltName=DNS:api.lab.test\nextendedKeyUsage=serverAuth\n' >new.ext &&
		openssl x509 -req -in new.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 90 \
			-sha256 -extfile new.ext -out new.crt 2>/dev/null &&
		openssl verify -CAfile ca.crt -verify_hostname api.lab.test new.crt >/dev/null &&
		cp -p server.crt server.crt.bak && cp -p server.key server.key.bak &&
		install -m 600 new.key server.key && install -m 644 new.crt server.crt &&
		rm -f new.key new.crt new.csr new.ext &&
		kill -HUP $(pgrep -x tls)
)

check_refused() { # MODE S_CLIENT_TEXT CURL_TEXT
	s_client && die "$1: openssl s_client accepted the certificate: $(tail -3 "$E2E_TMP/s_client")"
	grep -qF "$2" "$E2E_TMP/s_client" ||
		die "$1: openssl s_client did not say '$2': $(grep -i verify "$E2E_TMP/s_client")"
	curl_health
	rc=$?
	[ $rc = 60 ] || die "$1: curl exited $rc, wanted 60 (peer certificate cannot be authenticated): $(cat "$E2E_TMP/curl")"
	grep -qF "$3" "$E2E_TMP/curl" || die "$1: curl did not say '$3': $(cat "$E2E_TMP/curl")"
	note "$1: s_client: $(grep 'Verify return code' "$E2E_TMP/s_client" | head -1 | sed 's/^ *//')"
	note "$1: curl: $(head -1 "$E2E_TMP/curl")"
}

check_accepted() { # LABEL
	s_client || die "$1: openssl s_client refused: $(grep -i verify "$E2E_TMP/s_client")"
	grep -q "Verify return code: 0 (ok)" "$E2E_TMP/s_client" || die "$1: s_client did not verify"
	curl_health || die "$1: curl refused: $(cat "$E2E_TMP/curl")"
	[ "$(cat "$E2E_TMP/curl")" = ok ] || die "$1: /health said '$(cat "$E2E_TMP/curl")'"
}

for case in "expired|Verify return code: 10 (certificate has expired)|SSL certificate problem: certificate has expired" \
	"hostname_mismatch|Verify return code: 62 (hostname mismatch)|no alternative certificate subject name matches target host name 'api.lab.test'" \
	"unknown_ca|Verify return code: 18 (self-signed certificate)|SSL certificate problem: self-signed certificate"; do
	IFS='|' read -r mode s_text curl_text <<<"$case"
	rm -f "$CHAOSLAB_RESULTS"/*.json
	drill_bg tls-bad --set cert.mode="$mode"
	wait_state running 60
	check_refused "$mode" "$s_text" "$curl_text"
	grep -q "handshake from 127.0.0.1 failed" "$TLS/server.log" ||
		die "$mode: the service logged no failed handshake"
	rotate || die "$mode: the rotation commands failed"
	check_accepted "$mode, after the rotation"
	drill_wait
	[ "$DRILL_RC" = 0 ] || { cat "$E2E_TMP/drill.out"; die "$mode: the drill did not end fixed (exit $DRILL_RC)"; }
	f=$(result_file)
	[ "$(json "$f" 'd["outcome"]')" = fixed ] || die "$mode: outcome is not fixed"
	json "$f" '[s["report"] for s in d["revert"]["steps"] if s["step"] == "cert"][0]' |
		grep -q "alone: replaced since chaoslab wrote it (rotated)" ||
		die "$mode: revert did not leave the rotated certificate alone"
	RUN_IDS="${RUN_IDS:-} $(json "$f" 'd["run_id"]')"
	assert_clean
	note "$mode: refused while the fault held, accepted after the rotation, drill fixed"
done

# SIGKILL mid-drill, then recover: the original pair, byte for byte.
rm -f "$CHAOSLAB_RESULTS"/*.json
sha_before=$(cat "$TLS/server.crt" "$TLS/server.key" | sha256sum)
drill_bg tls-bad --set cert.mode=expired
wait_state running 60
s_client && die "the fault did not hold before the SIGKILL"
run=$("$CHAOSLAB_BIN" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
RUN_IDS="${RUN_IDS:-} $run"
[ "$(cat "$TLS/server.crt" "$TLS/server.key" | sha256sum)" != "$sha_before" ] ||
	die "the injected certificate is not in the files"
kill -KILL "$DRILL_PID"
drill_wait
[ -e "$CHAOSLAB_STATE/journal" ] || die "no journal after SIGKILL"
"$CHAOSLAB_BIN" recover >"$E2E_TMP/recover" 2>&1 || { cat "$E2E_TMP/recover"; die "recover failed"; }
grep -q "restored the original certificate" "$E2E_TMP/recover" ||
	die "recover did not restore the certificate: $(cat "$E2E_TMP/recover")"
[ "$(cat "$TLS/server.crt" "$TLS/server.key" | sha256sum)" = "$sha_before" ] ||
	die "after recover the certificate and key differ from the originals"
sleep 0.5
assert_clean
note "SIGKILL + recover: the original certificate and key are back, byte for byte"

[ "$(sha256sum </etc/resolv.conf)" = "$RESOLV_BEFORE" ] || die "the host's /etc/resolv.conf changed"
echo "PASS: openssl s_client and curl refuse expired, mismatched and self-signed certificates, accept the rotated one; recover restores the original"
