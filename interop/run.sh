#!/usr/bin/env bash
# Interoperability checks against real peers.
#
# Starts a broker on a free loopback port and drives it with Debian's
# mosquitto_pub/mosquitto_sub, Eclipse Paho's Python client
# (interop/paho_client.py), the Go paho tests of this folder
# (MIDGE_TEST_ADDR pointed at the broker), and MQTT.js over WebSockets
# (interop/websocket/: in Node over ws and wss, and in headless Chromium
# loading a page the broker serves from http_dir). By default the broker is
# midge, built from ./cmd/midge; `midge pub`, `midge sub` and `midge cert`
# are used with any broker.
#
# Usage:
#   bash interop/run.sh                             # build and check midge
#   MIDGE_BIN=/path/to/midge bash interop/run.sh    # check a midge binary
#   bash interop/run.sh --broker-cmd 'mosquitto -c' # check another broker
#
# --broker-cmd: the command that starts the broker in the foreground; the
# config file's path replaces {conf} in it, or is appended when there is no
# {conf}. The config holds "listener PORT 127.0.0.1", two more loopback
# listeners with "protocol websockets" (one with http_dir interop/websocket,
# one with certfile/keyfile from `midge cert`), "allow_anonymous true" and
# "sys_interval 1".
# Against mosquitto 2.0 set MIDGE_TEST_KEEPALIVE_SLACK=10s: its keepalive
# check is coarser than the Go test allows (see interop/will_test.go).
#
# Installs mosquitto, mosquitto-clients, openssl, python3-paho-mqtt, chromium
# and (without node and npm) nodejs and npm with apt-get when they are
# missing, and fails loudly if they still are; MQTT.js comes from the npm registry (npm ci, pinned by
# interop/websocket/package-lock.json). Prints one line per check and
# then "N passed, M failed"; exits non-zero when a check failed or the broker
# could not be started. Stops only the processes it started.
set -euo pipefail

die() {
	echo "interop: $*" >&2
	exit 1
}

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

broker_cmd=""
while [ $# -gt 0 ]; do
	case $1 in
	--broker-cmd)
		[ $# -ge 2 ] || die "--broker-cmd needs a command"
		broker_cmd=$2
		shift 2
		;;
	--broker-cmd=*)
		broker_cmd=${1#--broker-cmd=}
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		die "unknown argument: $1"
		;;
	esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python=/usr/bin/python3 # Debian's, which has python3-paho-mqtt; a pyenv python3 on PATH does not

# --- tools ---------------------------------------------------------------

have_clients() { command -v mosquitto_pub >/dev/null 2>&1 && command -v mosquitto_sub >/dev/null 2>&1; }
have_broker() { command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; }
have_openssl() { command -v openssl >/dev/null 2>&1; }
have_paho() { [ -x "$python" ] && "$python" -c 'import paho.mqtt.client' >/dev/null 2>&1; }
have_node() { command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; }
have_chromium() { command -v chromium >/dev/null 2>&1; }

missing=()
have_clients || missing+=(mosquitto-clients)
have_broker || missing+=(mosquitto)
have_openssl || missing+=(openssl)
have_paho || missing+=(python3-paho-mqtt)
have_node || missing+=(nodejs npm)
have_chromium || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
	echo "interop: installing ${missing[*]}"
	sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
	if ! { "${sudo[@]}" apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" </dev/null; }; then
		echo "interop: apt-get failed" >&2
	fi
fi
have_clients || die "mosquitto_pub/mosquitto_sub not found: install mosquitto-clients (apt-get install mosquitto-clients)"
have_broker || die "mosquitto not found: install Debian's mosquitto (apt-get install mosquitto), the reference broker and bridge peer of the Go interop tests"
have_openssl || die "openssl not found: install openssl (apt-get install openssl) for the certificate-chain check"
have_paho || die "$python cannot import paho.mqtt: install python3-paho-mqtt (apt-get install python3-paho-mqtt)"
have_node || die "node/npm not found: install Node.js and npm (apt-get install nodejs npm) for the MQTT.js checks"
have_chromium || die "chromium not found: install Debian's chromium (apt-get install chromium) for the browser check"
command -v go >/dev/null 2>&1 || die "go not found: the Go toolchain is needed to build midge and run the Go interop tests"

echo "interop: npm ci in interop/websocket (MQTT.js)"
(cd interop/websocket && npm ci --no-audit --no-fund --loglevel=error </dev/null) ||
	die "npm ci in interop/websocket failed: the npm registry is needed for MQTT.js"

# --- processes we start --------------------------------------------------

tmp=$(mktemp -d)
pids=()
# stop PID: SIGTERM, then SIGKILL if it is still there after 5 s.
stop() {
	local pid=$1
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
# forget PID: drops a process that has been waited for from the list to stop.
forget() {
	local pid kept=()
	for pid in "${pids[@]}"; do
		[ "$pid" = "$1" ] || kept+=("$pid")
	done
	pids=("${kept[@]}")
}
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		stop "$pid"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

# --- the broker ----------------------------------------------------------

# midge: the binary whose pub, sub and cert the checks use, and the default broker.
if [ -n "${MIDGE_BIN:-}" ]; then
	[ -x "$MIDGE_BIN" ] || die "MIDGE_BIN=$MIDGE_BIN is not an executable file"
	midge=$MIDGE_BIN
else
	echo "interop: building midge"
	go build -o "$tmp/midge" ./cmd/midge || die "go build ./cmd/midge failed"
	midge=$tmp/midge
fi
if [ -n "$broker_cmd" ]; then
	read -r -a broker <<<"$broker_cmd"
	[ ${#broker[@]} -gt 0 ] || die "--broker-cmd is empty"
	command -v "${broker[0]}" >/dev/null 2>&1 || die "broker command not found: ${broker[0]}"
else
	broker=("$midge" broker -c '{conf}')
fi

# free_port prints a loopback TCP port that nothing listens on now.
free_port() {
	"$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port=$(free_port)
ws_port=$(free_port)
wss_port=$(free_port)
"$midge" cert --dir "$tmp/pki" --host 127.0.0.1 --host localhost >/dev/null || die "midge cert failed"
conf=$tmp/broker.conf
cat >"$conf" <<EOF
listener $port 127.0.0.1
listener $ws_port 127.0.0.1
protocol websockets
http_dir $root/interop/websocket
listener $wss_port 127.0.0.1
protocol websockets
certfile $tmp/pki/server.crt
keyfile $tmp/pki/server.key
allow_anonymous true
sys_interval 1
EOF
if [[ " ${broker[*]} " == *"{conf}"* ]]; then
	broker=("${broker[@]//\{conf\}/$conf}")
else
	broker+=("$conf")
fi

echo "interop: starting ${broker[*]} on 127.0.0.1:$port"
"${broker[@]}" >"$tmp/broker.log" 2>&1 &
broker_pid=$!
pids+=("$broker_pid")

broker_log() {
	echo "--- broker log ($tmp/broker.log, last 30 lines) ---" >&2
	tail -n 30 "$tmp/broker.log" >&2 || true
}

ready=0
for _ in $(seq 1 200); do
	if ! kill -0 "$broker_pid" 2>/dev/null; then
		broker_log
		die "the broker exited at start-up"
	fi
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		ready=1
		break
	fi
	sleep 0.05
done
if [ "$ready" -ne 1 ]; then
	broker_log
	die "the broker does not accept connections on 127.0.0.1:$port after 10s"
fi

# --- checks --------------------------------------------------------------

passed=0
failed=0
pass() {
	passed=$((passed + 1))
	echo "ok - $1"
}
fail() {
	failed=$((failed + 1))
	echo "FAIL - $1"
}
# check NAME FUNCTION: runs FUNCTION, which prints why it failed and returns
# non-zero on failure.
check() {
	if "$2"; then pass "$1"; else fail "$1"; fi
}

run_id=$$-$RANDOM
base=midge-interop/cli/$run_id

pub() {
	timeout 10 mosquitto_pub -h 127.0.0.1 -p "$port" "$@"
}

declare -A sub_pid # subscriber name -> PID of its mosquitto_sub

# start_sub NAME ARGS...: starts mosquitto_sub in the background, its messages
# printed as "topic qos retain payload" into $tmp/NAME.out, and waits for its
# SUBACK. Ends with -C or -W (a 10 s limit unless ARGS gives one). With
# sub_midge=1 it runs `midge sub` instead, which takes the same options.
start_sub() {
	local name=$1 sub=(mosquitto_sub)
	shift
	[ -z "${sub_midge:-}" ] || sub=("$midge" sub)
	: >"$tmp/$name.raw"
	# stdbuf: mosquitto_sub does not flush its output, and the SUBACK line
	# must be seen while it runs.
	timeout 40 stdbuf -oL "${sub[@]}" -d -h 127.0.0.1 -p "$port" -W 10 -F '%t %q %r %p' "$@" \
		>"$tmp/$name.raw" 2>&1 &
	local pid=$!
	pids+=("$pid")
	sub_pid[$name]=$pid
	for _ in $(seq 1 200); do
		grep -q 'received SUBACK' "$tmp/$name.raw" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "    mosquitto_sub $*: no SUBACK"
	sed 's/^/    | /' "$tmp/$name.raw"
	return 1
}

# expect_sub NAME EXPECTED: waits for the subscriber NAME to end and compares
# its messages with EXPECTED (lines "topic qos retain payload").
expect_sub() {
	local name=$1 want=$2 got
	wait "${sub_pid[$name]}" || true
	forget "${sub_pid[$name]}"
	got=$(grep -v -e '^Client ' -e '^Subscribed ' "$tmp/$name.raw" || true)
	if [ "$got" != "$want" ]; then
		echo "    mosquitto_sub $name received:"
		printf '%s\n' "$got" | sed 's/^/    | /'
		echo "    want:"
		printf '%s\n' "$want" | sed 's/^/    | /'
		return 1
	fi
}

check_plus() {
	local t=$base/plus
	start_sub plus -t "$t/+/temp" -q 1 -C 2 || return 1
	pub -q 1 -t "$t/a/temp" -m a || return 1
	pub -q 1 -t "$t/a/b/temp" -m deeper || return 1
	pub -q 1 -t "$t/temp" -m shallower || return 1
	pub -q 1 -t "$t/a/humidity" -m other || return 1
	pub -q 1 -t "$t/b/temp" -m b || return 1
	expect_sub plus "$t/a/temp 1 0 a
$t/b/temp 1 0 b"
}

check_hash() {
	local t=$base/hash
	start_sub hash -t "$t/#" -q 1 -C 3 || return 1
	pub -q 1 -t "$t" -m parent || return 1
	pub -q 1 -t "$t-sibling/x" -m sibling || return 1
	pub -q 1 -t "$t/a" -m a || return 1
	pub -q 1 -t "$t/a/b/c" -m abc || return 1
	expect_sub hash "$t 1 0 parent
$t/a 1 0 a
$t/a/b/c 1 0 abc"
}

check_retained() {
	local t=$base/retained
	pub -q 1 -r -t "$t" -m one || return 1
	pub -q 1 -r -t "$t" -m two || return 1
	echo "    last retained wins, RETAIN set for a new subscriber"
	start_sub retained_new -t "$t" -q 1 -C 1 || return 1
	expect_sub retained_new "$t 1 1 two" || return 1
	echo "    RETAIN cleared when forwarded to an existing subscriber"
	start_sub retained_live -t "$t" -q 1 -C 1 -R || return 1
	pub -q 1 -r -t "$t" -m three || return 1
	expect_sub retained_live "$t 1 0 three" || return 1
	echo "    an empty retained message clears it"
	pub -q 1 -r -n -t "$t" || return 1
	start_sub retained_cleared -t "$t" -q 1 -C 1 || return 1
	pub -q 1 -t "$t" -m sentinel || return 1
	expect_sub retained_cleared "$t 1 0 sentinel"
}

check_qos() {
	local t=$base/qos sub_qos pub_qos want
	for sub_qos in 0 1 2; do
		start_sub "qos$sub_qos" -t "$t/sub$sub_qos" -q "$sub_qos" -C 3 || return 1
		want=""
		for pub_qos in 0 1 2; do
			pub -q "$pub_qos" -t "$t/sub$sub_qos" -m "published at $pub_qos" || return 1
			want+="$t/sub$sub_qos $((pub_qos < sub_qos ? pub_qos : sub_qos)) 0 published at $pub_qos"$'\n'
		done
		expect_sub "qos$sub_qos" "${want%$'\n'}" || return 1
	done
}

check_session() {
	local t=$base/session id=mi-cli-$RANDOM$RANDOM got
	timeout 10 mosquitto_sub -h 127.0.0.1 -p "$port" -c -i "$id" -q 1 -t "$t" -E || {
		echo "    mosquitto_sub -c -i $id -E: status $?"
		return 1
	}
	pub -q 1 -t "$t" -m first || return 1
	pub -q 1 -t "$t" -m second || return 1
	# The queued messages may arrive before the SUBACK of the new SUBSCRIBE.
	got=$(timeout 20 mosquitto_sub -h 127.0.0.1 -p "$port" -c -i "$id" -q 1 -t "$t" -C 2 -W 10 -F '%t %q %r %p') || {
		echo "    mosquitto_sub -c -i $id -C 2: status $?, received:"
		printf '%s\n' "$got" | sed 's/^/    | /'
		return 1
	}
	if [ "$got" != "$t 1 0 first"$'\n'"$t 1 0 second" ]; then
		echo "    mosquitto_sub -c -i $id received:"
		printf '%s\n' "$got" | sed 's/^/    | /'
		return 1
	fi
	# Drop the session: connect once with clean session on.
	timeout 10 mosquitto_sub -h 127.0.0.1 -p "$port" -i "$id" -t "$t" -E >/dev/null
}

# MQTT 5 with mosquitto_pub/mosquitto_sub -V 5: properties set with -D pass
# through the broker untouched, to an MQTT 5 subscriber.
check_v5_properties() {
	local t=$base/v5props
	start_sub v5props -V 5 -t "$t" -q 1 -C 1 -F '%t %q %r %C|%R|%P|%p' || return 1
	pub -V 5 -q 1 -t "$t" -m hello \
		-D publish content-type text/plain \
		-D publish response-topic "$t/reply" \
		-D publish user-property colour blue \
		-D publish user-property colour red || return 1
	expect_sub v5props "$t 1 0 text/plain|$t/reply|colour:blue colour:red|hello"
}

# Shared subscriptions: two MQTT 5 members of one group share four
# messages, two each, while a 3.1.1 member of another group gets all four.
check_v5_shared() {
	local t=$base/v5shared
	start_sub share_a -V 5 -t "\$share/g/$t" -q 1 -C 2 || return 1
	start_sub share_b -V 5 -t "\$share/g/$t" -q 1 -C 2 || return 1
	start_sub share_other -V 311 -t "\$share/h/$t" -q 1 -C 4 || return 1
	for i in 1 2 3 4; do
		pub -V 5 -q 1 -t "$t" -m "m$i" || return 1
	done
	local a b
	wait "${sub_pid[share_a]}" "${sub_pid[share_b]}" || true
	a=$(grep -c "^$t " "$tmp/share_a.raw" || true)
	b=$(grep -c "^$t " "$tmp/share_b.raw" || true)
	if [ "$a" != 2 ] || [ "$b" != 2 ]; then
		echo "    group members received $a and $b messages, want 2 and 2"
		return 1
	fi
	expect_sub share_other "$t 1 0 m1
$t 1 0 m2
$t 1 0 m3
$t 1 0 m4"
}

# Request/response with mosquitto_rr: the request carries its response
# topic through the broker, and the answer published there comes back.
check_v5_rr() {
	local t=$base/rr got
	start_sub rr_responder -V 5 -t "$t/request" -C 1 -F '%R|%p' || return 1
	timeout 15 mosquitto_rr -V 5 -h 127.0.0.1 -p "$port" -t "$t/request" -e "$t/response" -m question -W 10 \
		>"$tmp/rr.out" 2>&1 &
	local rr=$!
	pids+=("$rr")
	wait "${sub_pid[rr_responder]}" || true
	got=$(grep -v -e '^Client ' -e '^Subscribed ' "$tmp/rr_responder.raw" || true)
	if [ "$got" != "$t/response|question" ]; then
		echo "    the responder saw: $got"
		return 1
	fi
	pub -V 5 -t "$t/response" -m answer || return 1
	wait "$rr" || {
		echo "    mosquitto_rr failed:"
		sed 's/^/    | /' "$tmp/rr.out"
		return 1
	}
	[ "$(cat "$tmp/rr.out")" = answer ] || {
		echo "    mosquitto_rr printed: $(cat "$tmp/rr.out")"
		return 1
	}
}

# $SYS, as in Mosquitto's tutorial: mosquitto_sub -v on $SYS/broker/bytes/#
# while mosquitto_pub sends traffic sees bytes/received rise from one update
# to the next (sys_interval 1). Only changed figures are published again, so
# every value after the retained one is an update.
check_sys_bytes() {
	local out=$tmp/sys_bytes.out i received
	timeout 30 stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$port" -t "\$SYS/broker/bytes/#" -v -d -C 6 -W 20 \
		>"$out" 2>&1 &
	local sys_sub=$!
	pids+=("$sys_sub")
	for _ in $(seq 1 200); do
		grep -q 'received SUBACK' "$out" && break
		sleep 0.05
	done
	for i in $(seq 1 10); do
		pub -t "$base/sys" -m "traffic $i" || echo "    mosquitto_pub $i failed"
		sleep 0.3
	done
	wait "$sys_sub" || echo "    mosquitto_sub -C 6 -W 20: status $?"
	forget "$sys_sub"
	received=$(awk '$1 == "$SYS/broker/bytes/received" { print $2 }' "$out")
	if [ "$(printf '%s\n' "$received" | grep -c .)" -lt 2 ] ||
		[ "$(printf '%s\n' "$received" | tail -n 1)" -le "$(printf '%s\n' "$received" | head -n 1)" ]; then
		echo "    want two or more \$SYS/broker/bytes/received figures, rising; mosquitto_sub -v printed:"
		grep -F "\$SYS/broker/bytes/" "$out" | grep -v '^Client ' | sed 's/^/    | /'
		return 1
	fi
	echo "    \$SYS/broker/bytes/received: $(printf '%s\n' "$received" | paste -sd ' ')"
}

# $SYS/broker/version names the broker: "midge version X" for midge.
check_sys_version() {
	local got want="midge version *"
	[ -z "$broker_cmd" ] || want="* version *"
	got=$(timeout 10 mosquitto_sub -h 127.0.0.1 -p "$port" -t "\$SYS/broker/version" -C 1 -W 5) || {
		echo "    mosquitto_sub \$SYS/broker/version: status $?"
		return 1
	}
	# shellcheck disable=SC2053 # $want is a pattern
	if [[ $got != $want ]]; then
		echo "    \$SYS/broker/version is \"$got\", want \"$want\""
		return 1
	fi
}

echo "== mosquitto_pub / mosquitto_sub"
check "mosquitto-clients + wildcard" check_plus
check "mosquitto-clients # wildcard" check_hash
check "mosquitto-clients retained" check_retained
check "mosquitto-clients QoS 0/1/2" check_qos
check "mosquitto-clients persistent session queueing" check_session
check "mosquitto-clients MQTT 5 properties (-V 5 -D)" check_v5_properties
check "mosquitto-clients MQTT 5 shared subscriptions" check_v5_shared
check "mosquitto_rr request/response" check_v5_rr
check "mosquitto_sub \$SYS/broker/bytes/# rises as traffic flows" check_sys_bytes
check "mosquitto_sub \$SYS/broker/version" check_sys_version

# --- MQTT.js over WebSockets ----------------------------------------------

ws_dir=$root/interop/websocket

# wait_for FILE TEXT SECONDS: waits until a line of FILE holds TEXT.
wait_for() {
	local i
	for i in $(seq 1 $(($3 * 20))); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# mqttjs NAME -m TEXT|-f FILE NODE_ARGS...: interop/websocket/node_client.js
# (NODE_ARGS name the URL) subscribes to $base/mqttjs/NAME/in; `midge pub`
# sends it TEXT or FILE's content over TCP; the client checks the payload
# and answers on .../echo, which `midge sub` must receive.
mqttjs() {
	local name=$1 kind=$2 payload=$3 t=$base/mqttjs/$1 expect length status=0
	shift 3
	if [ "$kind" = -f ]; then
		expect=(--expect-file "$payload")
		length=$(wc -c <"$payload")
	else
		expect=(--expect "$payload")
		length=$(printf %s "$payload" | wc -c)
	fi
	sub_midge=1 start_sub "mqttjs-$name" -t "$t/echo" -q 1 -C 1 || return 1
	timeout 30 node "$ws_dir/node_client.js" --sub "$t/in" --echo "$t/echo" "${expect[@]}" "$@" \
		>"$tmp/mqttjs-$name.node" 2>&1 &
	local node_pid=$!
	pids+=("$node_pid")
	if wait_for "$tmp/mqttjs-$name.node" subscribed 15; then
		"$midge" pub -h 127.0.0.1 -p "$port" -q 1 -t "$t/in" "$kind" "$payload" || echo "    midge pub failed"
	fi
	wait "$node_pid" || status=$?
	forget "$node_pid"
	if [ "$status" -ne 0 ]; then
		echo "    node_client.js $*: status $status"
		sed 's/^/    | /' "$tmp/mqttjs-$name.node"
		return 1
	fi
	expect_sub "mqttjs-$name" "$t/echo 1 0 echo $length bytes"
}

check_mqttjs_ws31() { mqttjs ws31 -m "hello over ws" --url "ws://127.0.0.1:$ws_port/mqtt" --protocol-version 3; }
check_mqttjs_ws311() { mqttjs ws311 -m "hello over ws" --url "ws://127.0.0.1:$ws_port/mqtt" --protocol-version 4; }
check_mqttjs_ws5() { mqttjs ws5 -m "hello over ws" --url "ws://127.0.0.1:$ws_port/mqtt" --protocol-version 5; }
check_mqttjs_large() {
	head -c $((1 << 20)) /dev/urandom >"$tmp/large.bin"
	mqttjs large -f "$tmp/large.bin" --url "ws://127.0.0.1:$ws_port/mqtt"
}
check_mqttjs_wss() { mqttjs wss -m "hello over wss" --url "wss://127.0.0.1:$wss_port/mqtt" --ca "$tmp/pki/ca.crt"; }
check_mqttjs_wss_untrusted() {
	timeout 30 node "$ws_dir/node_client.js" --url "wss://127.0.0.1:$wss_port/mqtt" --expect-refused \
		>"$tmp/mqttjs-untrusted.node" 2>&1 || {
		sed 's/^/    | /' "$tmp/mqttjs-untrusted.node"
		return 1
	}
}

# The browser: headless Chromium opens interop/websocket/browser.html, served
# by the websockets listener itself (http_dir) with MQTT.js from
# node_modules. The page subscribes, says "ready", and echoes what `midge pub`
# sends it; `midge sub` sees both.
check_browser() {
	local t=$base/browser status=0
	sub_midge=1 start_sub browser -t "$t/from-page/#" -q 1 -C 2 -W 45 || return 1
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
		--user-data-dir="$tmp/chromium" --remote-debugging-port=0 \
		"http://127.0.0.1:$ws_port/browser.html?base=$t" >"$tmp/chromium.log" 2>&1 &
	local browser=$!
	pids+=("$browser")
	if wait_for "$tmp/browser.raw" "$t/from-page/ready 1 0 ready" 40; then
		"$midge" pub -h 127.0.0.1 -p "$port" -q 1 -t "$t/to-page" -m "hello from midge pub" || echo "    midge pub failed"
	else
		echo "    the page did not say ready within 40s; chromium's log:"
		grep -v -e dbus -e 'Fontconfig' "$tmp/chromium.log" | tail -n 15 | sed 's/^/    | /'
		status=1
	fi
	expect_sub browser "$t/from-page/ready 1 0 ready
$t/from-page/echo 1 0 browser received: hello from midge pub" || status=1
	stop "$browser"
	forget "$browser"
	return "$status"
}

echo "== MQTT.js $(node -p "require('$ws_dir/node_modules/mqtt/package.json').version") over WebSockets" \
	"(node $(node --version), $(chromium --version 2>/dev/null))"
check "MQTT.js ws MQTT 3.1 (subprotocol mqttv3.1)" check_mqttjs_ws31
check "MQTT.js ws MQTT 3.1.1" check_mqttjs_ws311
check "MQTT.js ws MQTT 5" check_mqttjs_ws5
check "MQTT.js ws 1 MiB message" check_mqttjs_large
check "MQTT.js wss with cafile" check_mqttjs_wss
check "MQTT.js wss refuses a certificate from an unknown CA" check_mqttjs_wss_untrusted
check "MQTT.js in headless Chromium, page and library served by http_dir" check_browser

echo "== Python paho ($("$python" -c 'import paho.mqtt; print(paho.mqtt.__version__)'))"
python_status=0
"$python" interop/paho_client.py --host 127.0.0.1 --port "$port" >"$tmp/python.out" 2>&1 || python_status=$?
cat "$tmp/python.out"
python_passed=$(grep -c '^ok - ' "$tmp/python.out" || true)
python_failed=$(grep -c '^FAIL - ' "$tmp/python.out" || true)
passed=$((passed + python_passed))
failed=$((failed + python_failed))
if [ "$python_status" -ne 0 ] && [ "$python_failed" -eq 0 ]; then
	fail "python paho client exited with status $python_status"
fi

echo "== Go paho tests (go test ./interop/ with MIDGE_TEST_ADDR=127.0.0.1:$port)"
go_status=0
MIDGE_TEST_ADDR=127.0.0.1:$port go test -count=1 -timeout 5m -v ./interop/ >"$tmp/go.out" 2>&1 || go_status=$?
go_passed=$(grep -c '^--- PASS: ' "$tmp/go.out" || true)
go_failed=$(grep -c '^--- FAIL: ' "$tmp/go.out" || true)
grep -E '^--- (PASS|FAIL|SKIP): ' "$tmp/go.out" | sed -e 's/^--- PASS: /ok - go /' -e 's/^--- FAIL: /FAIL - go /' -e 's/^--- SKIP: /skip - go /' || true
passed=$((passed + go_passed))
failed=$((failed + go_failed))
if [ "$go_status" -ne 0 ]; then
	echo "--- go test output (failures) ---"
	grep -v -E '^(=== (RUN|PAUSE|CONT)|    --- PASS|        --- PASS)' "$tmp/go.out" | tail -n 80
	[ "$go_failed" -gt 0 ] || fail "go test ./interop/ exited with status $go_status"
fi

if ! kill -0 "$broker_pid" 2>/dev/null; then
	fail "the broker is no longer running after the checks"
	broker_log
elif [ "$failed" -gt 0 ]; then
	broker_log
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
