#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/compare/run.sh - mara side by side with Kamailio 5.6, same generator, same machine, one go.
#
# Four systems, each between the same UAC generator and a SIPp UAS (tests/sipp/uas_200.xml):
#   mara-auth      mara-proxy (threads = N) + mara-aaa: RFC 4740 Figure 4, digest over Diameter
#   kamailio-auth  Kamailio (children = N), its own digest auth (kamailio/kamailio-auth.cfg)
#   mara-fwd       mara-proxy with auth_methods = [] (plain stateless forwarder, no Diameter peer)
#   kamailio-fwd   Kamailio stateless forwarder (kamailio/kamailio-fwd.cfg)
# Call flow per call: auth: INVITE/407/ACK/INVITE+Proxy-Authorization/200/ACK/BYE/200 (alice /
# alice-secret, realm example.com, qop=auth); fwd: INVITE/200/ACK/BYE/200. Both proxies add a
# Record-Route and pass the in-dialog ACK/BYE by loose routing.
#
# Generator: SIPp (uac_auth.xml / sipp/uac_noauth.xml, -r RATE -m RATE*DURATION); build/mara-bench
# instead when it exists (--generator sipp forces SIPp), which also measures the saturation
# throughput (highest completed calls/s with <= 0.1 % failures), then the latency at 25, 50 and
# 80 % of it (open loop: p50..p99.9 of INVITE(auth) -> 200, the issue's p99 target).
# Per run: completed calls, failures (offered - completed), retransmissions, CPU of the proxy
# (utime+stime from /proc/PID/stat of every process of it, threads included, before/after) and of
# mara-aaa; CPU per call = CPU / completed calls, in µs. Each point is run RUNS times (systems
# interleaved: run 1 of every system, then run 2, ...); the summary quotes medians.
#
# usage: bench/compare/run.sh [--quick] [--out DIR] [--workers N] [--loads "1000 2000 3000"]
#                             [--runs 3] [--duration 5] [--generator auto|sipp|mara-bench]
#                             [--systems "mara-auth kamailio-auth mara-fwd kamailio-fwd"]
#   --quick: one load point (500 calls/s), one run each, 3 s (about a minute in all).
# Output: DIR (default bench/results/<UTC timestamp>/): summary.md, runs.csv (every run),
# medians.csv, saturation.csv and latency.csv (mara-bench), machine.txt, versions.txt, configs/ (the exact files used), cpu_per_call.png,
# logs/ (daemon logs and SIPp screens). Loopback only; every process it starts is stopped by PID;
# every run is bounded in calls and time; ports are chosen free.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
SCN=$SRC/tests/sipp

QUICK=0 OUT="" WORKERS=$(nproc) LOADS="1000 2000 3000" RUNS=3 DURATION=5 GEN=auto
SYSTEMS="mara-auth kamailio-auth mara-fwd kamailio-fwd"
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--out) OUT=$2; shift ;;
	--workers) WORKERS=$2; shift ;;
	--loads) LOADS=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--duration) DURATION=$2; shift ;;
	--generator) GEN=$2; shift ;;
	--systems) SYSTEMS=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
	esac
	shift
done
if [ "$QUICK" = 1 ]; then LOADS=500 RUNS=1 DURATION=3; fi

for t in sipp kamailio ss awk python3; do
	command -v $t >/dev/null || die "$t not installed (make test-deps installs sip-tester, kamailio)"
done
[ -x "$PROXY" ] && [ -x "$AAA" ] || die "no $PROXY / $AAA (make build)"
case $GEN in
auto) if [ -x "$MBENCH" ]; then GEN=mara-bench; else GEN=sipp; fi ;;
sipp) ;;
mara-bench) [ -x "$MBENCH" ] || die "--generator mara-bench: no $MBENCH" ;;
*) die "--generator auto|sipp|mara-bench" ;;
esac

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
[ -n "$OUT" ] || OUT=$SRC/bench/results/$STAMP
mkdir -p "$OUT/configs" "$OUT/logs" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
bench_setup compare

# descendants PID -> PID and all its descendants (one per line)
descendants() {
	local p=$1 c
	echo "$p"
	for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do descendants "$c"; done
}

# stop_pid PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 5); the PID leaves PIDS
# (so that the exit trap never signals a recycled PID)
stop_pid() {
	local pid=$1 n=$((${2:-5} * 10)) i keep=()
	if kill -TERM "$pid" 2>/dev/null; then
		for _ in $(seq $n); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	for i in "${PIDS[@]}"; do [ "$i" = "$pid" ] || keep+=("$i"); done
	PIDS=("${keep[@]}")
	return 0
}


# ---- the systems ---------------------------------------------------------------------------------
# start_system NAME RUN: starts the proxy (and mara-aaa) towards $UAS_PORT; sets SIP_PORT,
# PROXY_PIDS (all processes of the proxy), AAA_PID ("" without), STOP_PIDS (stop order)
start_system() {
	local name=$1 run=$2 pa
	SIP_PORT=$(free_port) || return 1
	AAA_PID="" PROXY_PIDS="" STOP_PIDS=""
	case $name in
	mara-auth | mara-fwd)
		local methods='[ "*" ]'
		pa=$(free_port) || return 1
		if [ "$name" = mara-auth ]; then
			bench_aaa_conf "$W/aaa.conf" "$pa" "$WORKERS"
			cp "$W/aaa.conf" "$OUT/configs/mara-aaa.conf"
			start_daemon "$OUT/logs/$name.aaa.log" 'mara-aaa ready' 10 \
				"$AAA" -c "$W/aaa.conf" || return 1
			AAA_PID=$LAST_PID
		else
			methods='[]' # auth off: the peer bench_proxy_conf names is never connected
		fi
		bench_proxy_conf "$W/proxy.conf" "$SIP_PORT" "$UAS_PORT" "$pa" "$WORKERS" "$methods"
		cp "$W/proxy.conf" "$OUT/configs/$name.conf"
		start_daemon "$OUT/logs/$name.log" 'mara-proxy ready' 10 "$PROXY" -c "$W/proxy.conf" ||
			return 1
		PROXY_PIDS=$LAST_PID
		if [ -n "$AAA_PID" ]; then
			wait_for "$OUT/logs/$name.log" 'peer open' 10 "$LOG_FROM" || return 1
		fi
		STOP_PIDS="$PROXY_PIDS $AAA_PID"
		;;
	kamailio-auth | kamailio-fwd)
		local cfg=$HERE/kamailio/${name}.cfg kw=$W/kam-$run
		mkdir -p "$kw"
		sed -e "s/@PORT@/$SIP_PORT/g" -e "s/@UAS@/127.0.0.1:$UAS_PORT/g" \
			-e "s/@CHILDREN@/$WORKERS/g" "$cfg" >"$W/$name.cfg"
		cp "$W/$name.cfg" "$OUT/configs/$name.cfg"
		kamailio -c -f "$W/$name.cfg" >"$W/kcheck.log" 2>&1 || { cat "$W/kcheck.log"; return 1; }
		# -DD: children forked as usual, the main process stays ours (no daemonising); -E: log to
		# stderr (the log file), as mara does: without a syslog daemon each syslog() line costs a
		# console write
		start_daemon "$OUT/logs/$name.log" "" 0 \
			kamailio -DD -E -f "$W/$name.cfg" -P "$kw/kamailio.pid" -w "$kw" -m 128 -M 16
		local main=$LAST_PID
		wait_listening udp "$SIP_PORT" 10 || { echo "kamailio did not bind $SIP_PORT" >&2; return 1; }
		sleep 0.5 # all children forked
		PROXY_PIDS=$(descendants "$main" | tr '\n' ' ')
		local p
		for p in $PROXY_PIDS; do [ "$p" = "$main" ] || PIDS+=("$p"); done
		STOP_PIDS=$main
		;;
	*) echo "unknown system $name" >&2; return 1 ;;
	esac
	return 0
}

stop_system() {
	local p
	for p in $STOP_PIDS; do stop_pid "$p" 5; done
	for p in $PROXY_PIDS; do stop_pid "$p" 2; done # Kamailio's children, if any lingers
}

# ---- the generators ------------------------------------------------------------------------------
# run_sipp NAME MODE RATE CALLS TAG -> sets R_OK R_FAILED R_RETRANS R_WALL R_RC
run_sipp() {
	local name=$1 mode=$2 rate=$3 calls=$4 tag=$5 scen extra=() lp t0 t1
	if [ "$mode" = auth ]; then
		scen=$SCN/uac_auth.xml
		extra=(-au alice -ap alice-secret)
	else
		scen=$HERE/sipp/uac_noauth.xml
	fi
	lp=$(free_port) || return 1
	t0=$(date +%s.%N)
	# -d 10: 10 ms between the ACK and the BYE, so a multi-worker proxy cannot deliver the BYE
	# before the ACK (Kamailio's workers share one socket and may reorder back-to-back requests)
	timeout $((DURATION + 40)) sipp -sf "$scen" "127.0.0.1:$SIP_PORT" -i 127.0.0.1 -p "$lp" \
		-nostdin -m "$calls" -r "$rate" -l 5000 -d 10 -s service "${extra[@]}" \
		-key rdomain "127.0.0.1:$SIP_PORT" -buff_size 4194304 \
		-timeout $((DURATION + 30))s -timeout_error \
		-trace_screen -screen_file "$OUT/logs/$tag.uac.screen" >"$W/uac.out" 2>&1
	R_RC=$?
	t1=$(date +%s.%N)
	R_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
	# the final screen; SIPp's stdout has the last periodic one if it was cut short
	[ -s "$OUT/logs/$tag.uac.screen" ] || cp "$W/uac.out" "$OUT/logs/$tag.uac.screen"
	read -r R_OK R_FAILED R_RETRANS < <(count_screen "$OUT/logs/$tag.uac.screen")
}

# count_screen FILE -> "successful failed retransmissions" from a SIPp screen file
count_screen() {
	awk -F'|' '
		/Successful call/ { v=$3; gsub(/ /, "", v); ok=v }
		/Failed call/     { v=$3; gsub(/ /, "", v); ko=v }
		/Messages +Retrans/ { r = 0 }   # a new screen: count the last one only
		/---------->|<----------/ { n=split($0, f, " ");
			for (i=1; i<=n; i++) if (f[i] ~ /---------->|<----------/) break;
			if (f[i+1] ~ /RTD/) i++
			r += f[i+2] }
		END { printf "%d %d %d\n", ok, ko, r }' "$1" 2>/dev/null || echo "0 0 0"
}

# run_mbench NAME MODE RATE CALLS TAG -> same variables as run_sipp, from mara-bench --json
run_mbench() {
	local name=$1 mode=$2 rate=$3 calls=$4 tag=$5 flow=invite extra=() t0 t1
	if [ "$mode" = auth ]; then
		extra=(--user alice --password alice-secret --realm example.com)
	else
		flow=noauth
	fi
	t0=$(date +%s.%N)
	timeout $((DURATION + 40)) "$MBENCH" --flow "$flow" --target "127.0.0.1:$SIP_PORT" \
		--uas "127.0.0.1:$UAS_PORT" "${extra[@]}" --calls "$calls" --rate "$rate" --json \
		>"$OUT/logs/$tag.mara-bench.json" 2>"$OUT/logs/$tag.mara-bench.err"
	R_RC=$?
	t1=$(date +%s.%N)
	R_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
	read -r R_OK R_FAILED R_RETRANS < <(python3 "$HERE/mbench_json.py" counts \
		"$OUT/logs/$tag.mara-bench.json")
}

# ---- one run -------------------------------------------------------------------------------------
CSV=$OUT/runs.csv
echo "generator,system,mode,offered_cps,run,offered_calls,completed,failed,sipp_failed,retrans,wall_s,achieved_cps,proxy_cpu_s,aaa_cpu_s,proxy_us_per_call,aaa_us_per_call,total_us_per_call,rc,proxy_sys_s" >"$CSV"

one_run() {
	local name=$1 mode=$2 rate=$3 run=$4 calls tag p0 p1 s0 s1 a0=0 a1=0 uas_pid=""
	calls=$((rate * DURATION))
	tag=$name.$rate.$run
	# SIPp: a SIPp UAS for this run only (bounded: -timeout), started before the proxy's CPU is
	# sampled; mara-bench runs its own UAS (--uas)
	if [ "$GEN" = sipp ]; then
		sipp -sf "$SCN/uas_200.xml" -i 127.0.0.1 -p "$UAS_PORT" -nostdin \
			-timeout $((DURATION + 45))s -buff_size 4194304 >"$W/uas.out" 2>&1 &
		uas_pid=$!
		PIDS+=("$uas_pid")
		wait_listening udp "$UAS_PORT" 5 || { echo "UAS did not start" >&2; cat "$W/uas.out" >&2; return 1; }
	fi
	p0=$(cpu_ticks $PROXY_PIDS)
	s0=$(sys_ticks $PROXY_PIDS)
	[ -n "$AAA_PID" ] && a0=$(cpu_ticks "$AAA_PID")
	if [ "$GEN" = mara-bench ]; then
		run_mbench "$name" "$mode" "$rate" "$calls" "$tag"
	else
		run_sipp "$name" "$mode" "$rate" "$calls" "$tag"
	fi
	p1=$(cpu_ticks $PROXY_PIDS)
	s1=$(sys_ticks $PROXY_PIDS)
	[ -n "$AAA_PID" ] && a1=$(cpu_ticks "$AAA_PID")
	[ -n "$uas_pid" ] && stop_pid "$uas_pid" 3
	local failed=$((calls - R_OK))
	[ "$failed" -lt 0 ] && failed=0
	awk -v OFS=, -v g="$GEN" -v s="$name" -v m="$mode" -v r="$rate" -v run="$run" -v c="$calls" \
		-v ok="$R_OK" -v f="$failed" -v sf="$R_FAILED" -v rt="$R_RETRANS" -v w="$R_WALL" \
		-v p=$((p1 - p0)) -v a=$((a1 - a0)) -v hz="$HZ" -v rc="$R_RC" -v aaa="$AAA_PID" \
		-v sy=$((s1 - s0)) 'BEGIN{
		ps = p / hz; as = a / hz
		pu = ok ? ps * 1e6 / ok : ""; au = (aaa != "" && ok) ? as * 1e6 / ok : ""
		tu = ok ? (ps + as) * 1e6 / ok : ""
		if (aaa == "") as = ""
		print g, s, m, r, run, c, ok, f, sf, rt, w, (w > 0 ? sprintf("%.0f", ok / w) : ""),
		      sprintf("%.2f", ps), (aaa == "" ? "" : sprintf("%.2f", as)),
		      (pu == "" ? "" : sprintf("%.2f", pu)), (au == "" ? "" : sprintf("%.2f", au)),
		      (tu == "" ? "" : sprintf("%.2f", tu)), rc, sprintf("%.2f", sy / hz) }' >>"$CSV"
	log "$name $rate/s run $run: completed $R_OK/$calls, retrans $R_RETRANS, proxy CPU $(((p1 - p0) * 1000 / HZ)) ms, aaa CPU $(((a1 - a0) * 1000 / HZ)) ms"
}

# saturation (mara-bench only): closed loop at increasing concurrency; one line per step in
# saturation.csv; the summary takes the best completed calls/s with <= 0.1 % failures
SAT_CSV=$OUT/saturation.csv
saturation() {
	local name=$1 mode=$2 run=$3 c flow=invite extra=() tag
	[ "$mode" = auth ] && extra=(--user alice --password alice-secret --realm example.com) || flow=noauth
	for c in 16 32 64 128; do
		tag=$name.sat$c.$run
		local p0 p1 a0=0 a1=0
		p0=$(cpu_ticks $PROXY_PIDS)
		[ -n "$AAA_PID" ] && a0=$(cpu_ticks "$AAA_PID")
		timeout $((DURATION + 40)) "$MBENCH" --flow "$flow" --target "127.0.0.1:$SIP_PORT" \
			--uas "127.0.0.1:$UAS_PORT" "${extra[@]}" --warmup 1 --duration "$DURATION" \
			--concurrency "$c" --max-fail 0.1% \
			--json >"$OUT/logs/$tag.mara-bench.json" 2>"$OUT/logs/$tag.mara-bench.err"
		local rc=$? ok ko rt cps
		p1=$(cpu_ticks $PROXY_PIDS)
		[ -n "$AAA_PID" ] && a1=$(cpu_ticks "$AAA_PID")
		read -r ok ko rt cps < <(python3 "$HERE/mbench_json.py" sat "$OUT/logs/$tag.mara-bench.json")
		# CPU over warm-up + measured part, so per call only roughly (calls of the warm-up excluded)
		echo "$name,$mode,$c,$run,$ok,$ko,$rt,$cps,$rc,$(awk -v p=$((p1 - p0)) -v a=$((a1 - a0)) \
			-v hz="$HZ" 'BEGIN{printf "%.2f,%.2f", p / hz, a / hz}')" >>"$SAT_CSV"
		log "$name saturation c=$c run $run: $cps calls/s, $ok ok, $ko failed"
	done
}

# latency under load (mara-bench only): open loop at 25, 50 and 80 % of this run's saturation (the
# issue's target: p99 INVITE(auth) -> 200 < 1 ms below 80 % of it); one line per step in latency.csv
LAT_CSV=$OUT/latency.csv
latency_steps() {
	local name=$1 mode=$2 run=$3 sat f rate tag flow=invite extra=()
	[ "$mode" = auth ] && extra=(--user alice --password alice-secret --realm example.com) || flow=noauth
	# this run's best step with <= 0.1 % failures
	sat=$(awk -F, -v s="$name" -v r="$run" '$1 == s && $4 == r && $5 > 0 && $6 <= 0.001 * ($5 + $6) \
		&& $8 > b { b = $8 } END { print b + 0 }' "$SAT_CSV")
	[ "$sat" -gt 0 ] || { log "$name run $run: no saturation step without failures: no latency steps"; return 0; }
	for f in 25 50 80; do
		rate=$((sat * f / 100))
		tag=$name.lat$f.$run
		timeout $((DURATION + 40)) "$MBENCH" --flow "$flow" --target "127.0.0.1:$SIP_PORT" \
			--uas "127.0.0.1:$UAS_PORT" "${extra[@]}" --warmup 1 --duration "$DURATION" \
			--rate "$rate" --json >"$OUT/logs/$tag.mara-bench.json" 2>"$OUT/logs/$tag.mara-bench.err"
		local rc=$? ok ko p50 p90 p99 p999
		read -r ok ko p50 p90 p99 p999 < <(python3 "$HERE/mbench_json.py" lat "$OUT/logs/$tag.mara-bench.json")
		echo "$name,$mode,$run,$f,$sat,$rate,$ok,$ko,$p50,$p90,$p99,$p999,$rc" >>"$LAT_CSV"
		log "$name latency at $f % of $sat ($rate calls/s) run $run: p50 $p50 ms, p99 $p99 ms, $ko failed"
	done
}

# ---- machine, versions ---------------------------------------------------------------------------
{
	echo "date_utc: $(date -u '+%Y-%m-%d %H:%M:%S')"
	echo "host: $(uname -n)"
	echo "nproc: $(nproc)"
	echo "cpu: $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
	echo "kernel: $(uname -srm)"
	echo "memory: $(awk '/^MemTotal/{printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
	echo "os: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
	echo "clock_ticks_per_s: $HZ"
	echo "loadavg_at_start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/machine.txt"
{
	echo "mara-proxy: $("$PROXY" --version 2>&1 | head -1)"
	echo "mara-aaa: $("$AAA" --version 2>&1 | head -1)"
	echo "mara git: $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "kamailio: $(kamailio -v 2>&1 | head -1 | sed 's/^version: //')"
	echo "sipp: $(sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -1)"
	[ "$GEN" = mara-bench ] && echo "mara-bench: $("$MBENCH" --version 2>&1 | head -1)"
	echo "generator: $GEN"
} >"$OUT/versions.txt"
cp "$HERE/kamailio/kamailio-auth.cfg" "$OUT/configs/kamailio-auth.cfg.template"
cp "$HERE/kamailio/kamailio-fwd.cfg" "$OUT/configs/kamailio-fwd.cfg.template"
cp "$SCN/uac_auth.xml" "$SCN/uas_200.xml" "$HERE/sipp/uac_noauth.xml" "$OUT/configs/"
cat >"$OUT/configs/params.txt" <<EOF
workers (mara-proxy threads, mara-aaa threads, Kamailio children): $WORKERS
offered loads (calls/s): $LOADS
runs per point: $RUNS
duration per run (s): $DURATION (calls per run = load x duration)
generator: $GEN
quick: $QUICK
EOF

# ---- the loop ------------------------------------------------------------------------------------
log "results in $OUT (generator $GEN, workers $WORKERS, loads $LOADS, $RUNS run(s) of ${DURATION}s)"
[ "$GEN" = mara-bench ] && echo "system,mode,concurrency,run,completed,failed,retrans,cps,rc,proxy_cpu_s,aaa_cpu_s" >"$SAT_CSV"
[ "$GEN" = mara-bench ] && echo "system,mode,run,pct_of_sat,sat_cps,rate,completed,failed,p50_ms,p90_ms,p99_ms,p999_ms,rc" >"$LAT_CSV"
for run in $(seq "$RUNS"); do
	for name in $SYSTEMS; do
		case $name in *-auth) mode=auth ;; *) mode=fwd ;; esac
		UAS_PORT=$(free_port) || die "no free port"
		start_system "$name" "$run" || { stop_system; die "$name did not start (logs in $OUT/logs)"; }
		for rate in $LOADS; do
			one_run "$name" "$mode" "$rate" "$run" || { stop_system; die "$name $rate: run failed"; }
		done
		if [ "$GEN" = mara-bench ] && [ "$QUICK" = 0 ]; then
			saturation "$name" "$mode" "$run"
			latency_steps "$name" "$mode" "$run"
		fi
		stop_system
	done
done

echo "loadavg_at_end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
python3 "$HERE/summarize.py" "$OUT" || die "summary failed"
if command -v gnuplot >/dev/null; then
	(cd "$OUT" && gnuplot -e "gen='$GEN'" "$HERE/plot.gp") >"$OUT/logs/gnuplot.log" 2>&1 ||
		log "gnuplot failed (logs/gnuplot.log); no plot"
else
	log "gnuplot not installed: no plot (apt-get install gnuplot-nox)"
fi
log "done: $OUT/summary.md"
exit 0
