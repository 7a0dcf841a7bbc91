#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/appsip/run.sh - the Diameter server alone: mara-aaa against freeDiameter's app_sip (the
# RFC 4740 server of freeDiameter 1.2.1, the peer anchor), same generator, same machine, one go.
#
# Both servers get the same MARs from build/mara-bench --flow mar (closed loop, the same threads,
# TCP connections and concurrency): app_sip's flavour, which mara-aaa also takes: SIP-Method
# REGISTER for alice's own AOR sip:alice@test (app_sip serves REGISTER only), a SIP-Server-URI
# equal to the one stored for alice (without one app_sip's handler fails; another one makes it
# write the database on every MAR), and MAR #1 with an empty SIP-Authorization (app_sip's "challenge
# me" form). One flow = MAR #1 -> challenge -> MAR #2 with the MD5 digest (qop auth) -> authorized.
# Unit: a MAR answered as the flow expects (mara-bench's mars_ok): app_sip answers 1001 then 2001,
# mara-aaa 2008 then 2006; anything else is a failure, not throughput.
# Servers: mara-aaa with threads = nproc; freeDiameterd + app_sip.fdx with AppServThreads = 1
# (app_sip shares one MySQL connection between its threads and crashes with more) + MariaDB (a
# private instance: own datadir, socket and port, started here and stopped by PID at the end).
# CPU per MAR = utime + stime (from /proc/PID/stat, threads included) of the server's processes over
# the mara-bench run / MARs answered as expected; for app_sip with and without MariaDB.
# Each system is run RUNS times, interleaved (mara-aaa, app_sip, mara-aaa, ...); medians quoted.
#
# Sets up what is missing: apt-get install freediameterd freediameter-extensions mariadb-server (as
# root), app_sip.fdx built from the Debian source package (build_app_sip.sh, ~30 s) into APPSIP_DIR
# (default /tmp/mara-appsip, kept for the next run). Workarounds (../shared/peers/README.md §4):
# LD_PRELOAD of libgcrypt (app_sip.fdx is not linked to it) and of bind_lo.so (freeDiameterd drops a
# loopback ListenOn and binds 0.0.0.0; the shim rewrites that bind to 127.0.0.1).
#
# usage: bench/appsip/run.sh [--out DIR] [--runs 3] [--duration 8] [--threads 1] [--conns 4]
#                            [--concurrency 256]
# Output: DIR (default bench/results/appsip-<UTC timestamp>/): summary.md, runs.csv, raw/*.json
# (mara-bench --json of every run), configs/ (every file the servers ran with), logs/.
# Loopback only; free ports; every process started here is stopped by PID; every run is bounded
# (timeout); the whole script takes about 2 * RUNS * (DURATION + 2) s plus set-up.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
APPSIP_DIR=${APPSIP_DIR:-/tmp/mara-appsip}

OUT="" RUNS=3 DURATION=8 THREADS=1 CONNS=4 CONC=256
while [ $# -gt 0 ]; do
	case $1 in
	--out) OUT=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--duration) DURATION=$2; shift ;;
	--threads) THREADS=$2; shift ;;
	--conns) CONNS=$2; shift ;;
	--concurrency) CONC=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
	esac
	shift
done

[ -x "$AAA" ] && [ -x "$MBENCH" ] || die "no $AAA / $MBENCH (make build)"

# ---- dependencies -----------------------------------------------------------------------------
need=""
command -v freeDiameterd >/dev/null || need="$need freediameterd"
[ -f /usr/lib/freeDiameter/dict_sip.fdx ] || need="$need freediameter-extensions"
command -v mariadbd >/dev/null || need="$need mariadb-server"
for t in openssl gcc python3 ss; do command -v $t >/dev/null || need="$need $t"; done
if [ -n "$need" ]; then
	[ "$(id -u)" = 0 ] || die "missing:$need (install them, or run as root)"
	log "apt-get install$need"
	# shellcheck disable=SC2086
	timeout 600 apt-get install -y $need >&2 || die "apt-get install$need failed"
fi
if [ ! -f "$APPSIP_DIR/app_sip.fdx" ] || [ ! -f "$APPSIP_DIR/app_sip.sql" ]; then
	log "building app_sip.fdx into $APPSIP_DIR (Debian source package)"
	timeout 900 "$HERE/build_app_sip.sh" "$APPSIP_DIR" >&2 || die "app_sip build failed"
fi
GCRYPT=$(ldconfig -p | awk '/libgcrypt\.so\.20 .*x86-64|libgcrypt\.so\.20 / {print $NF; exit}')
[ -n "$GCRYPT" ] || die "libgcrypt.so.20 not found (app_sip.fdx needs it preloaded)"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
[ -n "$OUT" ] || OUT=$SRC/bench/results/appsip-$STAMP
mkdir -p "$OUT/configs" "$OUT/logs" "$OUT/raw" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
bench_setup appsip-run
DB_PID=""

PDB=$(free_port) && PFD=$(free_port) && PAAA=$(free_port) || die "no free port"
SECRET=$(hex_secret)

# ---- MariaDB (private instance) ------------------------------------------------------------------
log "MariaDB: private datadir, 127.0.0.1:$PDB"
DBUSER=mysql
[ "$(id -u)" = 0 ] || DBUSER=$(id -un)
mkdir -p "$W/db" && chown "$DBUSER" "$W/db" "$W" 2>/dev/null
timeout 120 mariadb-install-db --no-defaults --user="$DBUSER" --datadir="$W/db" \
	--auth-root-authentication-method=normal --skip-test-db >"$OUT/logs/mariadb-install.log" 2>&1 ||
	die "mariadb-install-db failed (logs/mariadb-install.log)"
start_daemon "$OUT/logs/mariadb.log" 'ready for connections' 60 \
	mariadbd --no-defaults --user="$DBUSER" --datadir="$W/db" --bind-address=127.0.0.1 \
	--port="$PDB" --socket="$W/mysqld.sock" --pid-file="$W/mysqld.pid" --skip-name-resolve \
	--skip-log-bin --innodb-buffer-pool-size=64M || die "MariaDB did not start"
DB_PID=$LAST_PID
sql() { timeout 60 mariadb --no-defaults -S "$W/mysqld.sock" -uroot "$@"; }
sql -e "CREATE DATABASE appsip; CREATE USER 'appsip'@'127.0.0.1' IDENTIFIED BY 'appsip';
        GRANT ALL ON appsip.* TO 'appsip'@'127.0.0.1';" || die "MariaDB: cannot create the database"
sql appsip <"$APPSIP_DIR/app_sip.sql" && sql appsip <"$HERE/app_sip_data.sql" ||
	die "MariaDB: cannot load the app_sip schema and data"

# ---- freeDiameterd + app_sip ----------------------------------------------------------------------
gcc -O2 -shared -fPIC -o "$W/bind_lo.so" "$HERE/bind_lo.c" -ldl || die "cannot build bind_lo.so"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=appsip.test \
	-keyout "$W/appsip.key" -out "$W/appsip.crt" >/dev/null 2>&1 || die "openssl req failed"
C=$OUT/configs
cat >"$C/app_sip.conf" <<EOF
# freeDiameter app_sip -> the private MariaDB of this run (run.sh writes it)
mode = DSSERVER;
ppr_port = 90;
rtr_port = 91;
datasource = MYSQL;
mysql_login = "appsip";
mysql_password = "appsip";
mysql_database = "appsip";
mysql_server = "127.0.0.1";
mysql_port = $PDB;
EOF
cat >"$C/acl_wl.conf" <<EOF
# accept unknown incoming peers *.test without TLS (ALLOW_IPSEC = no TLS handshake needed)
ALLOW_IPSEC *.test
EOF
cat >"$C/appsip-server.conf" <<EOF
# freeDiameterd + app_sip.fdx (RFC 4740 MAR server) on 127.0.0.1:$PFD, no TLS on the wire
Identity = "appsip.test";
Realm = "test";
Port = $PFD;
SecPort = 0;
No_SCTP;
ListenOn = "127.0.0.1";
No_IPv6;
TcTimer = 10;
TwTimer = 6;
AppServThreads = 1;  # app_sip shares ONE MySQL connection between dispatch threads: more crash
TLS_Cred = "$W/appsip.crt", "$W/appsip.key";
TLS_CA = "$W/appsip.crt";
LoadExtension = "/usr/lib/freeDiameter/dict_sip.fdx";
LoadExtension = "/usr/lib/freeDiameter/acl_wl.fdx" : "$C/acl_wl.conf";
LoadExtension = "$APPSIP_DIR/app_sip.fdx" : "$C/app_sip.conf";
EOF
log "freeDiameterd + app_sip on 127.0.0.1:$PFD"
start_daemon "$OUT/logs/freediameterd.log" "" 0 \
	env LD_PRELOAD="$W/bind_lo.so $GCRYPT" freeDiameterd -c "$C/appsip-server.conf"
FD_PID=$LAST_PID
wait_listening tcp "$PFD" 20 127.0.0.1 || die "freeDiameterd does not listen on 127.0.0.1:$PFD (logs/freediameterd.log)"

# ---- mara-aaa ---------------------------------------------------------------------------------------
HA1=$(printf '%s' 'alice:test:secret' | md5sum | cut -d' ' -f1)
printf 'alice:test:%s\n' "$HA1" >"$C/users"
cat >"$C/mara-aaa.conf" <<EOF
# mara-aaa for bench/appsip (run.sh writes it): realm test, alice / secret as in app_sip's data
log = { level = "info"; };
aaa = {
  listen = "127.0.0.1:$PAAA";
  origin_host = "aaa.test";
  origin_realm = "test";
  threads = $(nproc);
  users = "$C/users";
  realm = "test";
  nonce_secret = "$SECRET";
  algorithms = [ "MD5" ];
  # every nonce of the runs stays tracked (eviction would turn MAR #2 into a stale challenge)
  replay_entries = 4194304;
  stats_listen = "";
};
EOF
log "mara-aaa on 127.0.0.1:$PAAA"
start_daemon "$OUT/logs/mara-aaa.log" 'mara-aaa ready' 10 "$AAA" -c "$C/mara-aaa.conf" ||
	die "mara-aaa did not start"
AAA_PID=$LAST_PID

# ---- runs -------------------------------------------------------------------------------------------
FLAGS=(--flow mar --user alice --password secret --realm test --domain test --method REGISTER
	--server-uri sip:127.0.0.1:5060 --empty-authz --threads "$THREADS" --conns "$CONNS"
	--concurrency "$CONC" --timeout 10 --max-fail 0 --json)
echo "mara-bench ${FLAGS[*]} --target 127.0.0.1:PORT (--calls 50 for the check, --duration $DURATION for the runs)" \
	>"$C/mara-bench.args"

# bench SYSTEM NAME ARGS...: one mara-bench run against SYSTEM; CPU of its processes around it
bench() {
	local sys=$1 name=$2 port pids rc c0 c1 d0 d1 l0 l1
	shift 2
	if [ "$sys" = mara-aaa ]; then port=$PAAA pids=("$AAA_PID"); else port=$PFD pids=("$FD_PID"); fi
	l0=$(cut -d' ' -f1 /proc/loadavg)
	c0=$(cpu_ticks "${pids[@]}") d0=$(cpu_ticks "$DB_PID")
	timeout $((DURATION + 60)) "$MBENCH" "${FLAGS[@]}" --target "127.0.0.1:$port" "$@" \
		>"$OUT/raw/$name.json" 2>"$OUT/logs/$name.err"
	rc=$?
	c1=$(cpu_ticks "${pids[@]}") d1=$(cpu_ticks "$DB_PID")
	l1=$(cut -d' ' -f1 /proc/loadavg)
	echo "$sys,$name,$rc,$(((c1 - c0))),$(((d1 - d0))),$HZ,$l0,$l1" >>"$W/runs.txt"
	return $rc
}

log "check: 50 flows against each (both must answer every MAR as expected)"
bench mara-aaa check-mara-aaa --calls 50 || die "mara-aaa check failed (raw/check-mara-aaa.json)"
bench app_sip check-app_sip --calls 50 || die "app_sip check failed (raw/check-app_sip.json)"
: >"$W/runs.txt"
for r in $(seq "$RUNS"); do
	for sys in mara-aaa app_sip; do
		log "run $r/$RUNS: $sys, $DURATION s, concurrency $CONC over $THREADS x $CONNS connections"
		bench "$sys" "$sys-$r" --duration "$DURATION" ||
			log "$sys run $r: mara-bench exit $? (counted as it is; see raw/$sys-$r.json)"
	done
done
kill -0 "$FD_PID" 2>/dev/null || log "freeDiameterd died during the runs (logs/freediameterd.log)"
kill -0 "$AAA_PID" 2>/dev/null || log "mara-aaa died during the runs (logs/mara-aaa.log)"

# ---- machine, versions, summary -----------------------------------------------------------------------
{
	echo "date: $STAMP"
	echo "nproc: $(nproc)"
	echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
	echo "kernel: $(uname -srm)"
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "mara-aaa: $("$AAA" --version 2>&1 | head -1)"
	echo "mara-bench: $("$MBENCH" --version 2>&1 | head -1)"
	echo "freeDiameterd: $(dpkg-query -W -f='${Version}' freediameterd 2>/dev/null) (Debian), app_sip.fdx built from the Debian source package"
	echo "MariaDB: $(mariadbd --version 2>&1 | head -1)"
} >"$OUT/machine.txt"
sed -i "s/$SECRET/(random per run)/" "$C/mara-aaa.conf"
cp "$HERE/app_sip_data.sql" "$C/"
python3 - "$OUT" "$W/runs.txt" "$RUNS" "$DURATION" "$THREADS" "$CONNS" "$CONC" <<'PY'
import json, os, statistics as st, sys
out, runs_txt, runs, dur, threads, conns, conc = sys.argv[1:8]
rows = []
for line in open(runs_txt):
    sysname, name, rc, cpu, db, hz, l0, l1 = line.strip().split(",")
    d = json.load(open(os.path.join(out, "raw", name + ".json")))
    ok = d["mars_ok"]
    hz = float(hz)
    srv_us = int(cpu) / hz * 1e6 / ok if ok else 0.0
    db_us = int(db) / hz * 1e6 / ok if ok else 0.0
    rows.append(dict(system=sysname, run=name, rc=int(rc), mar_ok_per_s=d["mar_ok_per_s"],
                     mars_ok=ok, mars=d["mars"], flows=d["completed"], failed=d["failed"],
                     elapsed_s=d["elapsed_s"], codes=d["mar_codes"],
                     srv_cpu_s=int(cpu) / hz, db_cpu_s=int(db) / hz, srv_us=srv_us,
                     db_us=db_us, p50_ms=d["latency_ms"]["auth"]["p50"],
                     p99_ms=d["latency_ms"]["auth"]["p99"], load0=float(l0), load1=float(l1)))
with open(os.path.join(out, "runs.csv"), "w") as f:
    keys = ["system", "run", "rc", "mar_ok_per_s", "mars_ok", "mars", "flows", "failed",
            "elapsed_s", "srv_cpu_s", "db_cpu_s", "srv_us", "db_us", "p50_ms", "p99_ms",
            "load0", "load1", "codes"]
    f.write(",".join(keys) + "\n")
    for r in rows:
        f.write(",".join(str(r[k]).replace(",", ";") if k != "codes" else
                         " ".join(f"{c}={n}" for c, n in r[k].items()) for k in keys) + "\n")
med = {}
for s in ("mara-aaa", "app_sip"):
    rs = [r for r in rows if r["system"] == s]
    if not rs:
        continue
    codes = {}
    for r in rs:
        for c, n in r["codes"].items():
            codes[c] = codes.get(c, 0) + n
    med[s] = dict(n=len(rs), mps=st.median(r["mar_ok_per_s"] for r in rs),
                  lo=min(r["mar_ok_per_s"] for r in rs), hi=max(r["mar_ok_per_s"] for r in rs),
                  srv_us=st.median(r["srv_us"] for r in rs),
                  db_us=st.median(r["db_us"] for r in rs),
                  tot_us=st.median(r["srv_us"] + r["db_us"] for r in rs),
                  srv_cores=st.median(r["srv_cpu_s"] / r["elapsed_s"] for r in rs),
                  db_cores=st.median(r["db_cpu_s"] / r["elapsed_s"] for r in rs),
                  failed=sum(r["failed"] for r in rs), rc=[r["rc"] for r in rs],
                  p50=st.median(r["p50_ms"] for r in rs), p99=st.median(r["p99_ms"] for r in rs),
                  codes=codes)
mach = open(os.path.join(out, "machine.txt")).read()
loads = [r["load0"] for r in rows] + [r["load1"] for r in rows]
L = []
L.append("# mara-aaa vs freeDiameter app_sip (RFC 4740 MAR server), same generator\n")
L.append(f"Generator: `build/mara-bench --flow mar` closed loop, {threads} thread(s) x {conns} "
         f"TCP connections, concurrency {conc} flows, {dur} s per run, {runs} runs per server "
         "(interleaved), medians quoted. MARs in app_sip's flavour for both servers: REGISTER, "
         "alice's AOR sip:alice@test, SIP-Server-URI as stored, MAR #1 with an empty "
         "SIP-Authorization; one flow = MAR #1 -> challenge, MAR #2 (MD5 digest, qop auth) -> "
         "authorized. Unit: a MAR answered with the expected Result-Code (mara-bench `mars_ok`).\n")
L.append("| server | MAR/s (median) | min..max | CPU per MAR, server | + MariaDB | cores used (server / db) | MAR #2 p50 / p99 ms | failed flows | Result-Codes seen |")
L.append("|---|---|---|---|---|---|---|---|---|")
for s, m in med.items():
    codes = " ".join(f"{c}: {n}" for c, n in sorted(m["codes"].items()))
    db = f"{m['tot_us']:.1f} µs" if s == "app_sip" else "(none)"
    cores = f"{m['srv_cores']:.2f} / {m['db_cores']:.2f}" if s == "app_sip" else f"{m['srv_cores']:.2f}"
    L.append(f"| {s} | {m['mps']:.0f} | {m['lo']:.0f}..{m['hi']:.0f} | {m['srv_us']:.1f} µs | {db} | "
             f"{cores} | {m['p50']:.3f} / {m['p99']:.3f} | {m['failed']} | {codes} |")
if "mara-aaa" in med and "app_sip" in med and med["app_sip"]["mps"] > 0:
    a, b = med["mara-aaa"], med["app_sip"]
    L.append("")
    L.append(f"**Ratio mara-aaa / app_sip: {a['mps'] / b['mps']:.1f}x the MAR/s**; CPU per MAR "
             f"{b['srv_us'] / a['srv_us']:.1f}x lower than freeDiameterd's alone, "
             f"{b['tot_us'] / a['srv_us']:.1f}x lower than freeDiameterd + MariaDB's."
             if a["srv_us"] > 0 else "")
L.append("")
L.append(f"Load average (1 min) around the runs: {min(loads):.2f} .. {max(loads):.2f} on "
         f"{mach.split('nproc: ')[1].split()[0]} CPUs, shared with other work: absolute numbers move "
         "with it, the ratio less. app_sip runs with AppServThreads = 1 (more crash it) and does "
         "three SELECTs per MAR on MariaDB; the generator shares the same cores.\n")
L.append("## Machine and versions\n")
L.append("```\n" + mach + "```\n")
L.append("Files: `runs.csv` (every run), `raw/*.json` (mara-bench --json), `configs/` "
         "(server configurations, users, SQL data, mara-bench flags), `logs/`.")
open(os.path.join(out, "summary.md"), "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
log "results in $OUT"
