package interop

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// depthOutcome subscribes a 3.1.1 client of addr to filter and publishes
// name at QoS 0 from another. It returns "refused filter" when the broker
// closes the subscriber's connection for its SUBSCRIBE, "refused topic"
// when it closes the publisher's for its PUBLISH, and "delivered" when the
// message reaches the subscriber.
func depthOutcome(t *testing.T, addr, filter, name string) string {
	t.Helper()
	sub := connectRaw(t, addr, rawConnect{level: 4, clientID: "depth-sub", clean: true, keepAlive: 60})
	defer sub.conn.Close()
	body := binary.BigEndian.AppendUint16(nil, 1)
	sub.write(t, appendPacket(nil, 0x82, append(appendString(body, filter), 0)))
	first, ack, err := sub.readPacket(time.Now().Add(waitTimeout))
	switch {
	case err != nil:
		return "refused filter"
	case first != 0x90 || len(ack) != 3 || ack[2] != 0:
		t.Fatalf("%s: SUBSCRIBE %d separators: got packet 0x%02X % X", addr, strings.Count(filter, "/"), first, ack)
	}

	pub := connectRaw(t, addr, rawConnect{level: 4, clientID: "depth-pub", clean: true, keepAlive: 60})
	defer pub.conn.Close()
	pub.write(t, appendPacket(nil, 0x30, append(appendString(nil, name), 'x')))
	pub.write(t, []byte{typePingreq, 0})
	if first, _, err := pub.readPacket(time.Now().Add(waitTimeout)); err != nil {
		return "refused topic"
	} else if first != typePingresp {
		t.Fatalf("%s: publisher got packet 0x%02X", addr, first)
	}
	first, msg, err := sub.readPacket(time.Now().Add(waitTimeout))
	if err != nil || first != 0x30 || !strings.HasPrefix(string(msg[2:]), name) {
		t.Fatalf("%s: subscriber to %d separators, message on %d: packet 0x%02X, %v",
			addr, strings.Count(filter, "/"), strings.Count(name, "/"), first, err)
	}
	return "delivered"
}

// Mosquitto's topic depth limit, on both sides: 200 '/' in a topic name or
// filter are accepted, 201 refused (a 3.1.1 connection is closed), with a
// shared subscription's "$share/GROUP/" counted in. midge and Debian's
// mosquitto agree on each.
func TestTopicDepthAsMosquitto(t *testing.T) {
	mosquittotest.NeedBinary(t, "mosquitto")
	mosquitto := mosquittotest.Start(t, "")
	midge := startSecureBroker(t, t.TempDir(), "listener {port} 127.0.0.1\nallow_anonymous true\n").addr
	deep := func(separators int) string { return strings.Repeat("a/", separators) + "a" }
	for _, tc := range []struct {
		name, filter, topic, want string
	}{
		{"name of 200 separators", "#", deep(200), "delivered"},
		{"name of 200 empty levels", "#", strings.Repeat("/", 200), "delivered"},
		{"name of 201 separators", "#", deep(201), "refused topic"},
		{"filter of 200 separators", strings.Repeat("+/", 200) + "#", deep(200), "delivered"},
		{"filter of 201 separators", strings.Repeat("+/", 201) + "#", "a", "refused filter"},
		{"shared filter of 200 separators in all", "$share/g/" + deep(198), deep(198), "delivered"},
		{"shared filter of 201 separators in all", "$share/g/" + deep(199), "a", "refused filter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := depthOutcome(t, mosquitto, tc.filter, tc.topic)
			if want != tc.want {
				t.Fatalf("mosquitto: %s, this test expects %s", want, tc.want)
			}
			if got := depthOutcome(t, midge, tc.filter, tc.topic); got != want {
				t.Errorf("midge: %s, mosquitto: %s", got, want)
			}
		})
	}
}
