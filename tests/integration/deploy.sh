#!/bin/bash
# SPDX-License-Identifier: MIT
# deploy.sh - the Debian package and what it installs:
#   1. `make deb` builds the package in a copy of the tree (under the test's temp dir, so build/
#      is left alone; DEB_BUILD_OPTIONS=nocheck: the unit tests it would rerun are this suite's);
#      debian/control's Build-Depends list every -dev package of deploy/install-deps.sh; lintian
#      finds no error or warning (where lintian is installed);
#   2. the .deb, unpacked with `dpkg-deb -x` into a scratch root (no maintainer scripts run, the
#      host is not touched), holds the binaries in /usr/sbin, the units in /lib/systemd/system,
#      the man pages, the sysctl and sysusers files, the examples, and /etc/mara/{proxy.conf,
#      aaa.conf,users} as conffiles, the secrets 0640;
#   3. `MANWIDTH=80 man --warnings -l` renders both man pages without a warning;
#   4. `--check-config` passes on every installed config: mara-proxy on the default and the
#      example proxy configs; mara-aaa on the aaa ones, each checked as a copy whose
#      users = "/etc/mara/users" points into the scratch root instead (the installed file; the
#      path must stay /etc/mara/users in the package, and /etc/mara is not the scratch root's);
#   5. `systemd-analyze verify` passes, silent, on both installed units, rewritten so that
#      ExecStart names the unpacked binaries (verify checks that the executables exist), with
#      MANPATH on the unpacked man pages (it checks Documentation=man:...); the units keep
#      Type=notify, NotifyAccess=main, WatchdogSec=30 and allow io_uring in their syscall filter;
#   6. 90-mara.conf: every line is a comment, blank or "key = value" with an integer value, and
#      each key exists under /proc/sys (when /proc/sys is there);
#   7. sd_notify: the packaged binaries (the build's under MARA_SANITIZED=1), started with
#      NOTIFY_SOCKET on a datagram socket of ours and a 1 s watchdog, send READY=1 with a
#      STATUS, WATCHDOG=1 every half interval, RELOADING=1 then READY=1 on SIGHUP (mara-aaa),
#      STOPPING=1 on SIGTERM, and exit 0.
# Exit: 0 pass, 1 fail, 77 skip (systemd-analyze, dpkg-buildpackage, dpkg-deb, git, man, python3
# or ss missing).
set -u
. "$(dirname "$0")/lib.sh"

for tool in systemd-analyze dpkg-buildpackage dpkg-deb git man python3; do
	command -v "$tool" >/dev/null || { echo "skip: $tool not installed"; exit 77; }
done
VERSION=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$SRC/meson.build" | head -1)
ROOT=$W/root

# ---- 1. build -----------------------------------------------------------------------------------
# Build-Depends cover BUILD_PKGS' -dev packages (the package builds where `make deps` was run)
BUILD_PKGS=$(sed -n '/^BUILD_PKGS="/,/"$/p' "$SRC/deploy/install-deps.sh" | tr -d '"' |
	sed 's/^BUILD_PKGS=//')
missing=""
for p in $BUILD_PKGS; do
	case $p in *-dev) ;; *) continue ;; esac
	sed -n '/^Build-Depends:/,/^[A-Z]/p' "$SRC/debian/control" | grep -qE "(^|[ ,])$p([ ,(<]|$)" ||
		missing="$missing $p"
done
check "debian/control Build-Depends: every -dev of install-deps.sh${missing:+ (not:$missing)}" \
	test -z "$missing"

if DEB_BUILD_OPTIONS=nocheck timeout 500 make -C "$SRC" --no-print-directory deb BUILD="$W/b" \
	>"$W/deb.log" 2>&1; then
	ok "make deb builds the package ($(cd "$W/b/deb" && ls ./*.deb | tr '\n' ' '))"
else
	nok "make deb failed"
	tail -n 40 "$W/deb.log" | sed 's/^/# /'
	exit 1
fi
DEB=$W/b/deb/mara_${VERSION}_$(dpkg --print-architecture).deb
check "the package is named mara_${VERSION}" test -f "$DEB"
[ -f "$DEB" ] || exit 1
left=$(cd "$SRC" && ls -d obj-* debian/.debhelper debian/mara debian/files 2>/dev/null |
	tr '\n' ' ')
check "the build left nothing in the source tree${left:+ (left: $left)}" test -z "$left"

if command -v lintian >/dev/null; then # not a test dependency: checked where it is installed
	lintian --tag-display-limit 0 "$DEB" 2>&1 | grep -E '^[EW]: ' >"$W/lintian.out"
	check "lintian: no error or warning" test ! -s "$W/lintian.out"
	sed 's/^/# /' "$W/lintian.out"
fi

# ---- 2. contents --------------------------------------------------------------------------------
mkdir -p "$ROOT" && dpkg-deb -x "$DEB" "$ROOT"
dpkg-deb -e "$DEB" "$W/ctl"
dpkg-deb -c "$DEB" >"$W/contents"
for f in usr/sbin/mara-proxy usr/sbin/mara-aaa usr/bin/mara-bench; do
	check "$f is an executable" test -x "$ROOT/$f"
done
check "mara-bench is a user tool, not in /usr/sbin" test ! -e "$ROOT/usr/sbin/mara-bench"
for f in lib/systemd/system/mara-proxy.service lib/systemd/system/mara-aaa.service \
	usr/share/man/man8/mara-proxy.8.gz usr/share/man/man8/mara-aaa.8.gz usr/share/man/man1/mara-bench.1.gz \
	usr/lib/sysctl.d/90-mara.conf usr/lib/sysusers.d/mara.conf \
	usr/share/doc/mara/examples/README usr/share/doc/mara/examples/proxy-a.conf \
	usr/share/doc/mara/examples/proxy-b.conf usr/share/doc/mara/examples/aaa-1.conf \
	usr/share/doc/mara/examples/aaa-2.conf etc/mara/proxy.conf etc/mara/aaa.conf etc/mara/users; do
	check "the package holds /$f" test -s "$ROOT/$f"
done
for f in /etc/mara/proxy.conf /etc/mara/aaa.conf /etc/mara/users; do
	check "$f is a conffile" grep -qx "$f" "$W/ctl/conffiles"
	check "$f is not world-readable (-rw-r-----)" grep -qE "^-rw-r----- .* \.$f\$" "$W/contents"
done
check "/etc/mara/users is deploy/demo/users" cmp -s "$ROOT/etc/mara/users" "$SRC/deploy/demo/users"
check "the package's mara-proxy runs: --version = mara-proxy $VERSION" \
	test "$("$ROOT/usr/sbin/mara-proxy" --version 2>&1)" = "mara-proxy $VERSION"
check "the package's mara-aaa runs: --version = mara-aaa $VERSION" \
	test "$("$ROOT/usr/sbin/mara-aaa" --version 2>&1)" = "mara-aaa $VERSION"

# ---- 3. man pages -------------------------------------------------------------------------------
for m in "$ROOT"/usr/share/man/man*/*; do
	MANWIDTH=80 man --warnings -l "$m" >"$W/man.out" 2>"$W/man.err"
	rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$W/man.err" ] && grep -q '^NAME' "$W/man.out"; then
		ok "man --warnings -l ${m#"$ROOT"}: no warnings"
	else
		nok "man --warnings -l ${m#"$ROOT"}: rc=$rc"
		sed 's/^/# /' "$W/man.err" | head -20
	fi
done

# ---- 4. --check-config on every installed config ------------------------------------------------
for f in "$ROOT"/etc/mara/proxy.conf "$ROOT"/usr/share/doc/mara/examples/proxy*.conf; do
	if "$ROOT/usr/sbin/mara-proxy" --check-config -c "$f" >"$W/cc.out" 2>&1; then
		ok "mara-proxy --check-config -c ${f#"$ROOT"}"
	else
		nok "mara-proxy --check-config -c ${f#"$ROOT"}"
		sed 's/^/# /' "$W/cc.out"
	fi
done
for f in "$ROOT"/etc/mara/aaa.conf "$ROOT"/usr/share/doc/mara/examples/aaa*.conf; do
	name=${f#"$ROOT"}
	check "$name: users = \"/etc/mara/users\"" grep -qE '^ *users = "/etc/mara/users";' "$f"
	sed "s|\"/etc/mara/users\"|\"$ROOT/etc/mara/users\"|" "$f" >"$W/aaa-check.conf"
	# the examples' nonce_secret is an all-zero placeholder: refused until an operator replaces
	# it, as README says (openssl rand -hex 32)
	if grep -q 'nonce_secret = "0\{64\}"' "$W/aaa-check.conf"; then
		if "$ROOT/usr/sbin/mara-aaa" --check-config -c "$W/aaa-check.conf" >"$W/cc.out" 2>&1; then
			nok "mara-aaa --check-config -c $name accepts the all-zero nonce_secret placeholder"
		else
			check "mara-aaa --check-config -c $name refuses the placeholder nonce_secret" \
				grep -q 'placeholder' "$W/cc.out"
		fi
		sed -i "s/nonce_secret = \"0\{64\}\"/nonce_secret = \"$SECRET\"/" "$W/aaa-check.conf"
	fi
	if "$ROOT/usr/sbin/mara-aaa" --check-config -c "$W/aaa-check.conf" >"$W/cc.out" 2>&1 &&
		grep -q 'configuration OK (2 users)' "$W/cc.out"; then
		ok "mara-aaa --check-config -c $name (users path into the scratch root): 2 users"
	else
		nok "mara-aaa --check-config -c $name"
		sed 's/^/# /' "$W/cc.out"
	fi
done

# ---- 5. systemd-analyze verify ------------------------------------------------------------------
mkdir -p "$W/units"
URING_CALLS="io_uring_setup io_uring_enter io_uring_register"
for u in mara-proxy mara-aaa; do
	unit=$ROOT/lib/systemd/system/$u.service
	conf=${u#mara-}
	check "$u.service: ExecStart=/usr/sbin/$u -c /etc/mara/$conf.conf" \
		grep -qx "ExecStart=/usr/sbin/$u -c /etc/mara/$conf.conf" "$unit"
	check "$u.service: Type=notify, NotifyAccess=main, WatchdogSec=30" \
		eval "grep -qx Type=notify '$unit' && grep -qx NotifyAccess=main '$unit' &&
			grep -qx WatchdogSec=30 '$unit'"
	check "$u.service: the system call filter allows io_uring_setup/enter/register" \
		grep -qE "^SystemCallFilter=@system-service( [a-z_@]+)* $URING_CALLS" "$unit"
	sed "s|/usr/sbin/|$ROOT/usr/sbin/|g" "$unit" >"$W/units/$u.service"
	# verify exits 0 on an unknown or misspelt key (it only warns): require silence too
	if MANPATH=$ROOT/usr/share/man systemd-analyze verify "$W/units/$u.service" \
		>"$W/verify.out" 2>&1 && [ ! -s "$W/verify.out" ]; then
		ok "systemd-analyze verify $u.service: exit 0, no warning"
	else
		nok "systemd-analyze verify $u.service"
		sed 's/^/# /' "$W/verify.out"
	fi
	if systemd-analyze security --offline=yes "$W/units/$u.service" >"$W/sec.out" 2>&1; then
		echo "# $(tail -n 1 "$W/sec.out")"
	fi
done

# ---- 6. sysctl ----------------------------------------------------------------------------------
bad=""
n=0
while IFS= read -r line; do
	case $line in '' | '#'* | ';'*) continue ;; esac
	n=$((n + 1))
	if ! [[ $line =~ ^([a-z0-9_]+(\.[a-z0-9_]+)+)\ =\ ([0-9]+([[:space:]]+[0-9]+)*)$ ]]; then
		bad="$bad [syntax: $line]"
		continue
	fi
	key=${BASH_REMATCH[1]}
	if [ -d /proc/sys ] && [ ! -e "/proc/sys/${key//.//}" ]; then
		bad="$bad [no /proc/sys/${key//.//}]"
	fi
done <"$ROOT/usr/lib/sysctl.d/90-mara.conf"
check "90-mara.conf: $n settings, each \"key = integer\", the key in /proc/sys${bad:+:$bad}" \
	test -z "$bad" -a "$n" -gt 0

# ---- 7. sd_notify -------------------------------------------------------------------------------
# The packaged binaries; in the sanitizer pass of run-all.sh, the build's (ASan+UBSan) instead, so
# the notify and watchdog paths of the mains run under the sanitizers too.
BIN=$ROOT/usr/sbin
[ "${MARA_SANITIZED:-0}" = 1 ] && BIN=$BUILD
echo "# sd_notify checks on $BIN/mara-aaa and $BIN/mara-proxy"
# A datagram socket standing in for systemd's: each message becomes one line (newlines -> '|').
cat >"$W/notify.py" <<'PY'
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode(errors="replace").strip().replace("\n", "|") + "\n")
PY
python3 "$W/notify.py" "$W/notify.sock" "$W/notify.log" &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$W/notify.sock" ] && break; sleep 0.1; done

# notify_run NAME BINARY CONF: starts it with the notify socket and a 1 s watchdog -> LAST_PID
notify_run() {
	NOTIFY_SOCKET=$W/notify.sock WATCHDOG_USEC=1000000 \
		sh -c 'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$0" -c "$1"' "$2" "$3" \
		>"$W/$1.log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
}
count() { grep -c "$1" "$W/notify.log" 2>/dev/null; }

PA=$(free_port) || exit 1
sed -e "s|\"/etc/mara/users\"|\"$ROOT/etc/mara/users\"|" -e "s|127.0.0.1:3868|127.0.0.1:$PA|" \
	-e 's|stats_listen = .*|stats_listen = "";|' -e 's|^aaa = {|aaa = {\n  threads = 1;|' \
	"$ROOT/etc/mara/aaa.conf" >"$W/aaa.conf"
notify_run aaa "$BIN/mara-aaa" "$W/aaa.conf"
AAA_PID=$LAST_PID
check "mara-aaa: READY=1 with a STATUS naming the listen address" \
	wait_for "$W/notify.log" "^READY=1|STATUS=Diameter on 127.0.0.1:$PA" 5
wd0=$(count '^WATCHDOG=1$')
sleep 1.6
wd1=$(count '^WATCHDOG=1$')
check "mara-aaa: WATCHDOG=1 every half interval (1 s watchdog: $((wd1 - wd0)) pings in 1.6 s)" \
	test $((wd1 - wd0)) -ge 2
kill -HUP "$AAA_PID"
check "mara-aaa: SIGHUP -> RELOADING=1 (with MONOTONIC_USEC) then READY=1" \
	wait_for "$W/notify.log" "^RELOADING=1|MONOTONIC_USEC=[0-9]" 5
check "mara-aaa: READY=1 again after the reload" \
	eval "wait_for '$W/aaa.log' 'msg=\"reloaded\"' 5 && sleep 0.2 && test \$(count '^READY=1') -ge 2"

PP=$(free_port) || exit 1
sed -e "s|127.0.0.1:5060|127.0.0.1:$PP|" -e "s|127.0.0.1:3868|127.0.0.1:$PA|" \
	-e 's|stats_listen = .*|stats_listen = "";|' -e 's|^proxy = {|proxy = {\n  threads = 1;|' \
	"$ROOT/etc/mara/proxy.conf" >"$W/proxy.conf"
notify_run proxy "$BIN/mara-proxy" "$W/proxy.conf"
PROXY_PID=$LAST_PID
check "mara-proxy: READY=1 with a STATUS naming the SIP address" \
	wait_for "$W/notify.log" "^READY=1|STATUS=SIP on 127.0.0.1:$PP" 5
wd0=$(count '^WATCHDOG=1$')
sleep 1.6
wd1=$(count '^WATCHDOG=1$')
check "mara-proxy and mara-aaa: WATCHDOG=1 from both ($((wd1 - wd0)) pings in 1.6 s)" \
	test $((wd1 - wd0)) -ge 4

for pair in "proxy $PROXY_PID" "aaa $AAA_PID"; do
	read -r name pid <<<"$pair"
	before=$(count '^STOPPING=1$')
	kill -TERM "$pid"
	rc=124
	for _ in $(seq 100); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			rc=$?
			break
		fi
		sleep 0.1
	done
	check "mara-$name: SIGTERM -> STOPPING=1 and exit 0 (rc=$rc)" \
		eval "test $rc -eq 0 && test \$(count '^STOPPING=1\$') -gt $before"
done
if [ "$FAIL" -ne 0 ]; then
	echo "# ----- notify.log -----"
	sed 's/^/# /' "$W/notify.log"
	for f in aaa proxy; do
		echo "# ----- $f.log -----"
		tail -n 20 "$W/$f.log" | sed 's/^/# /'
	done
fi
exit "$FAIL"
