#!/bin/bash
# Side by side with persistence on: midge (persistence true: each QoS 1
# acknowledgement after a sync) against Mosquitto (persistence true: saved
# every autosave_interval). docs/persistence.md records what it printed.
#
#   bench/persistence/compare.sh [qos1|restart]...   (default: both)
#
# It builds midge from the working tree, starts each broker itself on
# 127.0.0.1 (midge 18851, Mosquitto 18852), fresh for every run, three
# runs each in turn, and stops only the processes it started. Mosquitto is
# /usr/sbin/mosquitto (apt-get install mosquitto).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/midge-persistence.XXXXXX)
bin=$work/bin/midge
mosquitto=${MOSQUITTO:-/usr/sbin/mosquitto}
[ -x "$mosquitto" ] || { echo "no $mosquitto: apt-get install mosquitto" >&2; exit 1; }
(cd "$root" && go build -o "$bin" ./cmd/midge)

pid=
cleanup() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; true; }
trap cleanup EXIT

waitport() {
	for _ in $(seq 1 6000); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.01
	done
	echo "nothing listens on $1" >&2
	return 1
}

# start NAME: starts the broker NAME on its port with persistence in
# $work/NAME, and sets pid and port.
start() {
	local dir=$work/$1
	mkdir -p "$dir"
	case $1 in
	midge)
		port=18851
		printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\n' $port "$dir" >"$dir/c.conf"
		"$bin" broker -c "$dir/c.conf" >>"$dir/log" 2>&1 &
		;;
	mosquitto)
		port=18852
		printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nuser root\n' $port "$dir" >"$dir/c.conf"
		"$mosquitto" -c "$dir/c.conf" >>"$dir/log" 2>&1 &
		;;
	esac
	pid=$!
	waitport $port
}

stop() {
	kill -TERM "$pid"
	wait "$pid" || true
	pid=
}

qos1() {
	echo "QoS 1 to persistent sessions: 8 publishers, --subscribers $1, 10 s"
	rm -rf "$work/midge" "$work/mosquitto"
	for run in 1 2 3; do
		for name in midge mosquitto; do
			start $name
			"$bin" bench run -p $port -q 1 -c 8 --subscribers "$1" --persistent -I "q1$name" -d 10s \
				--quiet --json --pid "$pid" >"$work/q1-$name-$run.json"
			stop
			python3 - "$work/q1-$name-$run.json" $name $run <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"  {sys.argv[2]:9} run {sys.argv[3]}: acknowledged {d['sent']:,}, delivered {d['received']:,}, "
      f"lost {d['lost']}, duplicates {d['duplicates']}, out of order {d['out_of_order']}, "
      f"p50 {d['latency_ms']['p50']:.2f} ms, p99 {d['latency_ms']['p99']:.2f} ms, "
      f"broker CPU {d['broker_process']['cpu_s']:.1f} s")
PY
		done
	done
}

restart() {
	echo "Restart with 1,000,000 retained messages"
	rm -rf "$work/midge" "$work/mosquitto"
	for name in midge mosquitto; do
		start $name
		"$bin" bench retained -p $port -C 1000000 -t 'site/%i/value' --keep --quiet --json >/dev/null
		stop
	done
	for run in 1 2 3; do
		for name in midge mosquitto; do
			local t0 t1
			t0=$(date +%s%N)
			start $name
			t1=$(date +%s%N)
			echo "  $name run $run: start to open port $(( (t1 - t0) / 1000000 )) ms, resident $(( $(ps -o rss= -p "$pid") / 1024 )) MiB"
			stop
		done
	done
	du -sh "$work/midge/mosquitto.db.midge" "$work/mosquitto/mosquitto.db"
}

[ $# -gt 0 ] || set -- qos1 restart
for what in "$@"; do
	case $what in
	qos1) qos1 8; qos1 1 ;;
	restart) restart ;;
	*) echo "unknown: $what (qos1 or restart)" >&2; exit 2 ;;
	esac
done
rm -rf "$work"
