#!/usr/bin/env bash
# config_check.sh - mara-aaa's command line, config checking and SIGHUP reload.
#
# Asserts:
#   * --help and --version exit 0 with the usage text / "mara-aaa <meson project version>";
#   * --check-config without -c (the embedded default) and with a valid complete file exit 0;
#     --print-default's output passes --check-config;
#   * each bad file exits non-zero and stderr names the file, the line and the key (see CASES):
#     unknown key, unknown section, syntax errors, out-of-range / wrongly typed watchdog_s,
#     bad listen address and port, unknown algorithm, short or all-zero nonce_secret, peer without host,
#     a users file that does not exist, a users file with a bad line (names that file + line);
#   * -c /nonexistent and unknown flags / stray arguments exit non-zero;
#   * SIGHUP: a users file with a bad line is refused (the process keeps running with the old
#     store), a bad config file is refused, and a fixed users file with a new user carol is
#     loaded: msg="reloaded" users=3; SIGTERM then exits 0.
#
# Env: MARA_BUILD (default /work/main/build), MARA_SRC (default /work/main).
# Exit: 0 pass, 1 fail, 77 skip (ss missing).
set -u

MARA_BUILD=${MARA_BUILD:-/work/main/build}
MARA_SRC=${MARA_SRC:-/work/main}
AAA=$MARA_BUILD/mara-aaa
DEMO_USERS=$MARA_SRC/deploy/demo/users

if [ ! -x "$AAA" ] || [ ! -r "$DEMO_USERS" ]; then
	echo "not ok - $AAA not built or $DEMO_USERS missing"
	exit 1
fi

PROC_NAME=conf
. "$(dirname "$0")/proc.sh"
show() { show_tail 100 "$@"; } # FILE...: dump for a failure

# run NAME ARGS...: runs mara-aaa (bounded to 10 s), RC, $WORK/NAME.out/.err
RC=
run() {
	local name=$1
	shift
	timeout 10 "$AAA" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null
	RC=$?
}

# ---- flags ------------------------------------------------------------------------------------
VERSION=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$MARA_SRC/meson.build" | head -1)
run help --help
if [ "$RC" -eq 0 ] && grep -q '^usage: mara-aaa ' "$WORK/help.out" &&
	grep -q -- '--check-config' "$WORK/help.out" && grep -q 'HUP' "$WORK/help.out"; then
	ok "--help exits 0 and prints the usage on stdout"
else
	not_ok "--help: rc=$RC"
	show "$WORK/help.out" "$WORK/help.err"
fi
run version --version
if [ "$RC" -eq 0 ] && [ "$(cat "$WORK/version.out")" = "mara-aaa ${VERSION:-?}" ]; then
	ok "--version exits 0 and prints \"mara-aaa $VERSION\""
else
	not_ok "--version: rc=$RC, printed \"$(cat "$WORK/version.out")\", want \"mara-aaa $VERSION\""
fi
run badflag --no-such-flag
if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && grep -q 'usage:' "$WORK/badflag.err"; then
	ok "an unknown flag exits non-zero ($RC) with the usage on stderr"
else
	not_ok "an unknown flag: rc=$RC"
	show "$WORK/badflag.err"
fi
run stray --check-config stray-argument
if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ]; then
	ok "a stray argument exits non-zero ($RC)"
else
	not_ok "a stray argument: rc=$RC"
fi
run nofile --check-config -c /nonexistent/mara.conf
if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && grep -q '/nonexistent/mara.conf' "$WORK/nofile.err"; then
	ok "-c /nonexistent/mara.conf exits non-zero ($RC) naming the file"
else
	not_ok "-c /nonexistent/mara.conf: rc=$RC"
	show "$WORK/nofile.err"
fi

# ---- good configs -----------------------------------------------------------------------------
run embedded --check-config
if [ "$RC" -eq 0 ] && grep -q 'configuration OK (2 users)' "$WORK/embedded.out"; then
	ok "--check-config with the embedded default exits 0 (2 users)"
else
	not_ok "--check-config with the embedded default: rc=$RC"
	show "$WORK/embedded.out" "$WORK/embedded.err"
fi
run printdef --print-default
cp "$WORK/printdef.out" "$WORK/printdef.conf"
run printdef_check --check-config -c "$WORK/printdef.conf"
if [ "$RC" -eq 0 ]; then
	ok "--print-default's output passes --check-config"
else
	not_ok "--print-default's output fails --check-config: rc=$RC"
	show "$WORK/printdef.conf" "$WORK/printdef_check.err"
fi

cat >"$WORK/good.conf" <<EOF
# every key of the schema
log = { level = "warning"; };
aaa = {
  listen = "127.0.0.1:3868";
  origin_host = "aaa.example.com";
  origin_realm = "example.com";
  threads = 2;
  watchdog_s = 6;
  reconnect_s = 5;
  max_message = 65536;
  accept_unknown_peers = false;
  peers = ( { host = "dra1.example.com"; address = "127.0.0.1:3869"; connect = true; },
            { host = "sip1.example.com"; } );
  users = "$DEMO_USERS";
  realm = "example.com";
  nonce_secret = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
  nonce_lifetime_s = 60;
  replay_entries = 1024;
  algorithms = [ "SHA-256", "MD5", "SHA-512-256" ];
  allow_no_qop = false;
  return_ha1 = true;
};
EOF
run good --check-config -c "$WORK/good.conf"
if [ "$RC" -eq 0 ] && grep -q "$WORK/good.conf: configuration OK (2 users)" "$WORK/good.out"; then
	ok "a valid file with every key exits 0"
else
	not_ok "a valid file: rc=$RC"
	show "$WORK/good.out" "$WORK/good.err"
fi

# ---- bad configs ------------------------------------------------------------------------------
printf 'alice:example.com:ae7914636bb60b37a9441871cf572389\n# comment\nthis line has no fields\n' >"$WORK/bad.users"

# name|expected line|expected key (regex, "" = none)|extra regex on stderr|file text (printf %b)
CASES=(
	'unknown_key|2|colour|unknown key|# mara\naaa = { colour = "red"; };\n'
	'unknown_section|2|colour_scheme|unknown section|log = { level = "info"; };\ncolour_scheme = { a = 1; };\n'
	'syntax_missing_brace|3||syntax|aaa = {\n  watchdog_s = 10;\n'
	'syntax_missing_equals|3||syntax|aaa = {\n  realm = "example.com";\n  watchdog_s 10;\n};\n'
	'watchdog_out_of_range|3|watchdog_s|range|aaa = {\n  realm = "example.com";\n  watchdog_s = 3;\n};\n'
	'watchdog_wrong_type|2|watchdog_s|integer|aaa = {\n  watchdog_s = "ten";\n};\n'
	'bad_listen_address|4|listen|999\.1\.1\.1|\naaa = {\n  origin_host = "aaa.test";\n  listen = "999.1.1.1:3868";\n};\n'
	'bad_listen_port|2|listen|70000|aaa = {\n  listen = "127.0.0.1:70000";\n};\n'
	'unknown_algorithm|2|algorithms|SHA-1|aaa = {\n  algorithms = [ "MD5", "SHA-1" ];\n};\n'
	'short_nonce_secret|2|nonce_secret|64 hex|aaa = {\n  nonce_secret = "0123456789abcdef";\n};\n'
	'nonhex_nonce_secret|2|nonce_secret|64 hex|aaa = {\n  nonce_secret = "0123456789abcdefg123456789abcdef0123456789abcdef0123456789abcdef";\n};\n'
	'zero_nonce_secret|2|nonce_secret|placeholder|aaa = {\n  nonce_secret = "0000000000000000000000000000000000000000000000000000000000000000";\n};\n'
	'batch_wait_out_of_range|3|batch_wait_us|range|proxy = {\n  threads = 2;\n  batch_wait_us = 5000;\n};\n'
	'empty_aaa_peers|2|aaa_peers|at least one|proxy = {\n  aaa_peers = ( );\n};\n'
	'ha1_cache_max_age_out_of_range|4|max_age_s|range|proxy = {\n  ha1_cache = {\n    enabled = true;\n    max_age_s = 0;\n  };\n};\n'
	'ha1_cache_unknown_key|3|ttl|unknown key|proxy = {\n  ha1_cache = {\n    ttl = 5;\n  };\n};\n'
	'ha1_cache_bad_method|3|methods|ACK|proxy = {\n  ha1_cache = {\n    methods = [ "ACK" ];\n  };\n};\n'
	'ha1_cache_not_a_group|2|ha1_cache|group|proxy = {\n  ha1_cache = true;\n};\n'
	'peer_without_host|4||host|aaa = {\n  origin_host = "aaa.test";\n  peers = (\n    { address = "127.0.0.1:3868"; connect = true; }\n  );\n};\n'
)
for c in "${CASES[@]}"; do
	IFS='|' read -r name line key extra text <<<"$c"
	printf '%b' "$text" >"$WORK/$name.conf"
	run "$name" --check-config -c "$WORK/$name.conf"
	err=$WORK/$name.err
	why=
	[ "$RC" -eq 0 ] && why="$why exit 0;"
	[ "$RC" -eq 124 ] && why="$why timed out;"
	grep -q -- "file=$WORK/$name.conf " "$err" || why="$why file not named;"
	grep -q -- " line=$line " "$err" || why="$why line $line not named;"
	if [ -n "$key" ]; then
		grep -q -- " key=$key " "$err" || why="$why key $key not named;"
	fi
	grep -q -E -- "$extra" "$err" || why="$why no \"$extra\";"
	if [ -z "$why" ]; then
		ok "$name: exit $RC, stderr names the file, line $line${key:+, key $key}"
	else
		not_ok "$name:$why"
		show "$WORK/$name.conf" "$err"
	fi
done

# users files (--check-config loads the user store)
printf 'aaa = {\n  realm = "example.com";\n  users = "%s";\n};\n' "$WORK/no-such-store.txt" >"$WORK/users_missing.conf"
run users_missing --check-config -c "$WORK/users_missing.conf"
if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && grep -q "$WORK/no-such-store.txt" "$WORK/users_missing.err"; then
	ok "users_missing: exit $RC, stderr names the missing users file"
else
	not_ok "users_missing: rc=$RC"
	show "$WORK/users_missing.err"
fi
printf 'aaa = {\n  users = "%s";\n};\n' "$WORK/bad.users" >"$WORK/users_bad_line.conf"
run users_bad_line --check-config -c "$WORK/users_bad_line.conf"
if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && grep -q "file=$WORK/bad.users line=3 " "$WORK/users_bad_line.err"; then
	ok "users_bad_line: exit $RC, stderr names the users file and line 3"
else
	not_ok "users_bad_line: rc=$RC"
	show "$WORK/users_bad_line.err"
fi

# ---- SIGHUP reload ----------------------------------------------------------------------------
for try in $(seq 1 50); do
	PORT=$((20000 + RANDOM % 9990))
	port_free "$PORT" && break
done
USERS=$WORK/users
cp "$DEMO_USERS" "$USERS"
cat >"$WORK/hup.conf" <<EOF
log = { level = "info"; };
aaa = {
  listen = "127.0.0.1:$PORT";
  origin_host = "aaa.test";
  origin_realm = "test";
  realm = "example.com";
  users = "$USERS";
  watchdog_s = 30;
};
EOF
cp "$WORK/hup.conf" "$WORK/hup.conf.orig"
LOG=$WORK/hup.log
"$AAA" -c "$WORK/hup.conf" >"$LOG" 2>&1 &
PID=$!
PIDS+=("$PID")
if poll 5 grep -q 'msg="mara-aaa ready"' "$LOG"; then
	ok "mara-aaa started on 127.0.0.1:$PORT with a copy of the demo users"
else
	not_ok "mara-aaa did not start"
	show "$LOG"
	exit 1
fi
grep -q 'msg="user store loaded" .*users=2' "$LOG" || not_ok "the start-up log lacks msg=\"user store loaded\" users=2"

# hup_until PATTERN: SIGHUP and wait (5 s) for a new log line matching PATTERN
hup_until() {
	local before
	before=$(grep -c -- "$1" "$LOG")
	kill -HUP "$PID"
	poll 5 eval '[ "$(grep -c -- '"'$1'"' "$LOG")" -gt '"$before"' ]'
}

cp "$USERS" "$USERS.good"
echo 'dave:example.com:not-a-hex-ha1' >>"$USERS"
BADLINE=$(wc -l <"$USERS")
if hup_until 'msg="reload refused'; then
	if grep -q "msg=\"reload refused: bad user store, keeping the old one\" file=$USERS " "$LOG" &&
		grep -q "msg=\"user store rejected\" file=$USERS line=$BADLINE " "$LOG"; then
		ok "SIGHUP with a bad users line: reload refused, naming $USERS line $BADLINE"
	else
		not_ok "SIGHUP with a bad users line: the refusal does not name the users file and line $BADLINE"
		show "$LOG"
	fi
else
	not_ok "SIGHUP with a bad users line: no msg=\"reload refused\" within 5 s"
	show "$LOG"
fi
sleep 0.3
if alive "$PID"; then
	ok "mara-aaa keeps running after the refused reload"
else
	not_ok "mara-aaa died after the refused reload"
	show "$LOG"
	exit 1
fi

# a bad config file is refused too (and the old one kept)
printf '%s\n' 'log = { level = "info"; };' 'aaa = { colour = "red"; };' >"$WORK/hup.conf"
if hup_until 'msg="reload refused: bad config'; then
	if grep -q "msg=\"config error\" file=$WORK/hup.conf line=2 key=colour" "$LOG"; then
		ok "SIGHUP with a bad config: reload refused, naming the file, line 2 and key colour"
	else
		not_ok "SIGHUP with a bad config: the refusal does not name file/line/key"
		show "$LOG"
	fi
else
	not_ok "SIGHUP with a bad config: no msg=\"reload refused: bad config\" within 5 s"
	show "$LOG"
fi
cp "$WORK/hup.conf.orig" "$WORK/hup.conf"
alive "$PID" || {
	not_ok "mara-aaa died after the refused config reload"
	show "$LOG"
	exit 1
}

# fixed file with a new user: carol / carol-secret
cp "$USERS.good" "$USERS"
HA1=$(printf '%s' 'carol:example.com:carol-secret' | md5sum | cut -d' ' -f1)
echo "carol:example.com:$HA1" >>"$USERS"
if hup_until 'msg="reloaded"'; then
	if grep -q "msg=\"reloaded\" users=3 file=$USERS" "$LOG"; then
		ok "SIGHUP with carol added: msg=\"reloaded\" users=3"
	else
		not_ok "SIGHUP with carol added: $(grep 'msg="reloaded"' "$LOG")"
	fi
else
	not_ok "SIGHUP with carol added: no msg=\"reloaded\" within 5 s"
	show "$LOG"
fi
kill -TERM "$PID"
if wait_exit "$PID" 5 && [ "$EXIT_STATUS" -eq 0 ]; then
	ok "mara-aaa exited 0 within 5 s of SIGTERM"
else
	not_ok "mara-aaa did not exit 0 within 5 s of SIGTERM (status $EXIT_STATUS)"
fi

if [ "$FAILED" -ne 0 ]; then
	show "$LOG"
	exit 1
fi
exit 0
