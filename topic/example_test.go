package topic_test

import (
	"fmt"
	"slices"

	"github.com/midge-mqtt/midge/topic"
)

func ExampleTree() {
	subscriptions := topic.NewTree[byte]() // value: the granted QoS
	subscriptions.Add("sport/tennis/+", "alice", 1)
	subscriptions.Add("sport/#", "bob", 0)
	subscriptions.Add("#", "carol", 2)

	qos := subscriptions.MatchAppend("sport/tennis/player1", nil)
	slices.Sort(qos)
	fmt.Println(qos)
	fmt.Println(subscriptions.MatchAppend("$SYS/broker/uptime", nil))
	// Output:
	// [0 1 2]
	// []
}

func ExampleNames() {
	retained := topic.NewNames[string]()
	retained.Set("sport/tennis/player1", "15-love")
	retained.Set("sport/golf", "par")
	retained.Set("weather", "rain")

	var names []string
	retained.MatchFilter("sport/#", func(name, _ string) bool {
		names = append(names, name)
		return true
	})
	slices.Sort(names)
	fmt.Println(names)
	// Output: [sport/golf sport/tennis/player1]
}

func ExampleParseShared() {
	group, inner, ok := topic.ParseShared("$share/workers/jobs/+")
	fmt.Println(group, inner, ok)
	// Output: workers jobs/+ true
}
