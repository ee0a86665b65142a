#!/bin/bash
# Many-core scaling: fan-out QoS 0 and pairs QoS 1 at 1..16 broker cores,
# midge against Mosquitto 2.0.11. Writes one JSON file per run under $OUT
# and one summary line per run on stdout; docs/scaling.md holds the result.
#
# Prepare, from the repository root, on the machine that builds:
#   CGO_ENABLED=0 go build -o .dev/midge ./cmd/midge
#   mkdir -p .dev/mroot/lib && cp /usr/sbin/mosquitto .dev/mroot/ &&
#   for l in $(ldd /usr/sbin/mosquitto | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do cp -L $l .dev/mroot/lib/; done
# then run it where the cores are: OUT=/some/dir bash bench/scaling/scale.sh
# (CORES="1 2" limits the core counts; the machine needs that many cores).
set -u
M=.dev/midge
MR=.dev/mroot
ulimit -n 20000
nproc > $OUT/nproc.txt; grep -m1 'model name' /proc/cpuinfo >> $OUT/nproc.txt
printf 'listener 21883 127.0.0.1\nallow_anonymous true\nuser root\nmax_queued_messages 10000000\n' > /tmp/mosq.conf
printf "listener 21884 127.0.0.1\nallow_anonymous true\nmax_queued_messages 10000000\n" > /tmp/midge.conf
waitport() { for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
one() {
  local name=$1 cores=$2 scen=$3 last=$(( $2 - 1 )) port
  if [ "$name" = midge ]; then
    GOMAXPROCS=$cores taskset -c 0-$last $M broker -c /tmp/midge.conf 2>/dev/null & port=21884
  else
    taskset -c 0-$last $MR/lib/ld-linux-x86-64.so.2 --library-path $MR/lib $MR/mosquitto -c /tmp/mosq.conf 2>/dev/null & port=21883
  fi
  local bp=$!
  waitport $port || { echo "no $name"; kill $bp; return; }
  case $scen in
    fanout) args=(run -c 1 --subscribers 256 -t bench/fanout -s 64 -q 0 -C 10000) ;;
    pairs)  args=(run -c 500 --subscribers 500 -t bench/pair/%i -s 64 -q 1 -C 1600) ;;
  esac
  timeout 90 $M bench "${args[@]}" -h 127.0.0.1 -p $port --pid $bp --json --quiet > $OUT/$scen-$cores-$name.json 2> $OUT/$scen-$cores-$name.err; local rc=$?
  local f=$OUT/$scen-$cores-$name.json
  echo "$scen cores=$cores $name rc=$rc $(grep -E '"(received|received_per_s|lost|duplicates|elapsed_s|cpu_us_per_msg|cores|hwm_kib|p50|p99)"' $f | tr -d ' \n')"
  kill $bp; wait $bp 2>/dev/null
}
for scen in fanout pairs; do
  for cores in ${CORES:-1 2 4 8 16}; do
    one midge $cores $scen
    one mosquitto $cores $scen
  done
done
