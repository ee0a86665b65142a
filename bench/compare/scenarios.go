package main

import (
	"fmt"
	"strconv"
)

// kind says which measures a scenario reports.
type kind int

const (
	kindMessages kind = iota // throughput, losses, CPU per message
	kindLatency              // a paced stream: latency percentiles
	kindConn                 // idle connections: rate and memory
	kindRetained             // retained delivery time and memory
)

// scenario is one row group of the report: the six scenarios,
// with fan-in and fan-out at each QoS and idle connections at each count.
type scenario struct {
	id    string // for -scenarios
	title string
	kind  kind
	args  []string // midge bench arguments, without -h, -p, --pid and --json
}

// scenarios returns the list for the given sizes: quick divides the
// message counts by 4 and shortens the timed runs.
func scenarios(quick bool, conns []int) []scenario {
	count := func(n int) string {
		if quick {
			n /= 4
		}
		return strconv.Itoa(n)
	}
	seconds := func(full, short int) string {
		if quick {
			return strconv.Itoa(short) + "s"
		}
		return strconv.Itoa(full) + "s"
	}
	list := []scenario{}
	fanInCounts := map[int]int{0: 8000, 1: 4000, 2: 2000}
	for _, qos := range []int{0, 1, 2} {
		list = append(list, scenario{
			id: fmt.Sprintf("fanin%d", qos), kind: kindMessages,
			title: fmt.Sprintf("1. Fan-in, QoS %d: 64 publishers to 1 wildcard subscriber, 64-byte payloads", qos),
			args: []string{"run", "-c", "64", "--subscribers", "1", "-t", "bench/fanin/%i", "--filter", "bench/fanin/+",
				"-s", "64", "-q", strconv.Itoa(qos), "-C", count(fanInCounts[qos])},
		})
	}
	fanOutCounts := map[int]int{0: 4000, 1: 2000}
	for _, qos := range []int{0, 1} {
		list = append(list, scenario{
			id: fmt.Sprintf("fanout%d", qos), kind: kindMessages,
			title: fmt.Sprintf("2. Fan-out, QoS %d: 1 publisher to 256 subscribers, 64-byte payloads", qos),
			args: []string{"run", "-c", "1", "--subscribers", "256", "-t", "bench/fanout",
				"-s", "64", "-q", strconv.Itoa(qos), "-C", count(fanOutCounts[qos])},
		})
	}
	list = append(list,
		scenario{
			id: "pairs", kind: kindMessages,
			title: "3. Pairs, QoS 1: 500 publisher/subscriber pairs on their own topics, 64-byte payloads",
			args: []string{"run", "-c", "500", "--subscribers", "500", "-t", "bench/pair/%i",
				"-s", "64", "-q", "1", "-C", count(800)},
		},
		scenario{
			id: "latency", kind: kindLatency,
			title: "4. Latency, QoS 1: 1 publisher to 1 subscriber at 1,000 messages/s, 64-byte payloads",
			args: []string{"run", "-c", "1", "--subscribers", "1", "-t", "bench/latency",
				"-s", "64", "-q", "1", "-R", "1000", "-d", seconds(10, 4)},
		})
	for _, n := range conns {
		list = append(list, scenario{
			id: "conn" + strconv.Itoa(n), kind: kindConn,
			title: fmt.Sprintf("5. Idle connections, %s clients: held %s", group(float64(n)), seconds(5, 3)),
			args:  []string{"conn", "-c", strconv.Itoa(n), "-d", seconds(5, 3), "--concurrency", "64"},
		})
	}
	list = append(list, scenario{
		id: "retained", kind: kindRetained,
		title: "6. Retained: 100,000 retained messages on distinct topics, then a new subscriber to bench/retained/#",
		args:  []string{"retained", "-C", "100000", "-t", "bench/retained/%i", "-s", "64", "--keep"},
	})
	return list
}
