#!/bin/bash
# SPDX-License-Identifier: MIT
# digest_sec.sh - mara-aaa's Digest security (issue 6), through tests/dia_client:
#   1. replayed nonce counts, forged nonces, a nonce minted for another realm, a foreign
#      Digest-Realm, an expired nonce, an MD5 answer to a SHA-256 nonce (downgrade), a wrong
#      response, user names with quotes, backslashes, NUL, CR LF, UTF-8, spaces or 299 bytes:
#      each refused (or re-challenged when expired), and each counted exactly on /metrics in
#      mara_aaa_digest_refused_total{reason}
#   2. a server whose policy is SHA-256 only refuses an MD5 answer (algorithm_not_allowed)
#   3. two instances sharing the secret: credentials for A's nonce sent to C are re-challenged
#      (foreign_instance), never accepted, also after A accepted them
#   4. no nonce secret and no HA1 in the logs (debug level)
#   5. configuration: an all-zero or patterned nonce_secret is refused by --check-config; a users
#      file writable by others is refused, one readable by others is loaded with a warning
# Loopback only; every process is stopped by PID at exit.
set -u
. "$(dirname "$0")/lib.sh"

# counter NAME FILE REASON: the value of mara_aaa_digest_refused_total{reason=REASON}
refused() {
	awk -v r="mara_aaa_digest_refused_total{reason=\"$2\"}" '$1 == r { print $2 }' "$1"
}
# expect FILE REASON N
expect() {
	local got
	got=$(refused "$1" "$2")
	if [ "$got" = "$3" ]; then ok "$2 counted: $3"; else nok "$2 counted: want $3, got '$got'"; fi
}

# ---- 1. refusals and their counters ----------------------------------------------------------
PA=$(free_port) || exit 1
AAA_LOG_LEVEL=debug start_aaa a "$PA" || exit 1
A=$LAST_PID
if "$CLIENT" 127.0.0.1 "$PA" --mode sec --secret "$SECRET" >"$W/sec.tap" 2>&1; then
	ok "sec: $(grep -c '^ok' "$W/sec.tap") refusals answered as expected"
else
	nok "sec"
	grep '^not ok' "$W/sec.tap"
fi
scrape_to "$a_STATS" "$W/a.prom" || nok "scrape a"
expect "$W/a.prom" replayed_nonce_count 2
expect "$W/a.prom" forged_nonce 2
expect "$W/a.prom" expired_nonce 1
expect "$W/a.prom" foreign_realm 1
expect "$W/a.prom" algorithm_downgrade 1
expect "$W/a.prom" wrong_response 1
expect "$W/a.prom" bad_username 14
expect "$W/a.prom" algorithm_not_allowed 0
expect "$W/a.prom" foreign_instance 0

# ---- 2. policy: SHA-256 only -----------------------------------------------------------------
PB=$(free_port) || exit 1
AAA_ALGS='"SHA-256"' start_aaa b "$PB" || exit 1
B=$LAST_PID
check "sec-policy: MD5 answer refused, SHA-256 accepted" \
	"$CLIENT" 127.0.0.1 "$PB" --mode sec-policy
scrape_to "$b_STATS" "$W/b.prom" || nok "scrape b"
expect "$W/b.prom" algorithm_not_allowed 1

# ---- 3. another instance never vouches for A's nonce ------------------------------------------
PC=$(free_port) || exit 1
start_aaa c "$PC" || exit 1
C=$LAST_PID
check "cross: A's nonce at C is re-challenged, at A accepted" \
	"$CLIENT" 127.0.0.1 "$PA" --mode cross --port2 "$PC"
scrape_to "$c_STATS" "$W/c.prom" || nok "scrape c"
expect "$W/c.prom" foreign_instance 2

# ---- 4. no secrets in the logs ----------------------------------------------------------------
check "a exits 0" stop_ok "$A"
check "b exits 0" stop_ok "$B"
check "c exits 0" stop_ok "$C"
check "debug log of a has MAR refusals" grep -q 'MAR refused' "$W/a.log"
leak=0
for s in "$SECRET" $(cut -d: -f3- "$SRC/deploy/demo/users" | grep -v '^#' | tr ':' ' '); do
	[ ${#s} -ge 32 ] || continue
	grep -qi -- "$s" "$W/a.log" "$W/b.log" "$W/c.log" && leak=1
done
check "no nonce secret or HA1 in the logs" [ "$leak" = 0 ]
check "no control byte of a refused user name in the log" \
	bash -c "! LC_ALL=C grep -q \$'\\r' '$W/a.log'"

# ---- 5. configuration refusals ----------------------------------------------------------------
cfg() { # SECRET USERS
	printf 'aaa = {\n  realm = "example.com";\n  nonce_secret = "%s";\n  users = "%s";\n};\n' "$1" "$2"
}
cp "$SRC/deploy/demo/users" "$W/users"
chmod 0640 "$W/users"
cfg "$SECRET" "$W/users" >"$W/good.conf"
check "--check-config: a random secret and a 0640 users file pass" \
	"$AAA" --check-config -c "$W/good.conf"
for weak in 0000000000000000000000000000000000000000000000000000000000000000 \
	deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef; do
	cfg "$weak" "$W/users" >"$W/weak.conf"
	if "$AAA" --check-config -c "$W/weak.conf" >"$W/weak.out" 2>&1; then
		nok "--check-config accepts nonce_secret $weak"
	else
		check "--check-config refuses nonce_secret ${weak:0:16}... and says why" \
			grep -q 'key=nonce_secret.*placeholder' "$W/weak.out"
	fi
done
chmod 0646 "$W/users"
if "$AAA" --check-config -c "$W/good.conf" >"$W/ow.out" 2>&1; then
	nok "a users file writable by others is accepted"
else
	check "a users file writable by others is refused (logged)" \
		grep -q 'writable by others' "$W/ow.out"
fi
chmod 0644 "$W/users"
check "a users file readable by others is loaded with a warning" \
	bash -c "'$AAA' --check-config -c '$W/good.conf' >'$W/or.out' 2>&1 && grep -q 'chmod 0640' '$W/or.out'"

exit $FAIL
