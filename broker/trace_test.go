package broker_test

import (
	"log/slog"
	"net"
	"strconv"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// With debug logging on, the broker writes `mosquitto -v`'s trace: a line
// for each packet in both directions, in Mosquitto 2.0's words (compared
// with mosquitto -v 2.0.11 running the same clients).
func TestPacketTrace(t *testing.T) {
	t.Parallel()
	logger, log := brokertest.NewLog(slog.LevelDebug)
	b := brokertest.Start(t, broker.Options{Logger: logger})

	sub := brokertest.Connect(t, b.Addr, packets.V311, "subber", true)
	_, port, _ := net.SplitHostPort(b.Addr)
	subAddr := sub.Net.LocalAddr().String()
	sub.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "v/#", QoS: 2}}})
	sub.Expect()
	log.WaitFor(t,
		"New connection from "+subAddr+" on port "+port+".",
		"New client connected from "+subAddr+" as subber (p2, c1, k60).",
		"No will message specified.",
		"Sending CONNACK to subber (0, 0)",
		"Received SUBSCRIBE from subber",
		"\tv/# (QoS 2)",
		"Sending SUBACK to subber")

	pub := brokertest.Dial(t, b.Addr, packets.V311)
	pub.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, CleanStart: true, KeepAlive: 30, ClientID: "tracer",
		Will: &packets.Will{Topic: "w/t", Payload: []byte("bye"), QoS: 1, Retain: true}})
	pub.Expect()
	pub.Send(&packets.Publish{Topic: "v/t", QoS: 1, PacketID: 7, Payload: []byte("x")})
	pub.Expect()
	pub.Send(&packets.Publish{Topic: "v/t", QoS: 2, PacketID: 8, Payload: []byte("yy")})
	pub.Expect() // PUBREC
	pub.Send(&packets.Ack{Kind: packets.TypePubrel, PacketID: 8})
	pub.Expect() // PUBCOMP
	pub.Send(&packets.Pingreq{})
	pub.Expect()
	pub.Send(&packets.Disconnect{})
	log.WaitFor(t,
		"New client connected from "+pub.Net.LocalAddr().String()+" as tracer (p2, c1, k30).",
		"Will message specified (3 bytes) (r1, q1).",
		"\tw/t",
		"Sending CONNACK to tracer (0, 0)",
		"Received PUBLISH from tracer (d0, q1, r0, m7, 'v/t', ... (1 bytes))",
		"Received PUBLISH from tracer (d0, q2, r0, m8, 'v/t', ... (2 bytes))",
		"Sending PUBREC to tracer (m8, rc0)",
		"Received PUBREL from tracer (Mid: 8)",
		"Sending PUBCOMP to tracer (m8)",
		"Received PINGREQ from tracer",
		"Sending PINGRESP to tracer",
		"Received DISCONNECT from tracer",
		"Client tracer disconnected.")
	log.WaitFor(t, "Sending PUBACK to tracer (m7, rc0)")

	// The subscriber's side of both flows.
	first := sub.Expect().(*packets.Publish)
	sub.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: first.PacketID})
	second := sub.Expect().(*packets.Publish)
	sub.Send(&packets.Ack{Kind: packets.TypePubrec, PacketID: second.PacketID})
	sub.Expect() // PUBREL
	sub.Send(&packets.Ack{Kind: packets.TypePubcomp, PacketID: second.PacketID})
	m1, m2 := strconv.Itoa(int(first.PacketID)), strconv.Itoa(int(second.PacketID))
	log.WaitFor(t,
		"Sending PUBLISH to subber (d0, q1, r0, m"+m1+", 'v/t', ... (1 bytes))",
		"Received PUBACK from subber (Mid: "+m1+", RC:0)")
	log.WaitFor(t,
		"Sending PUBLISH to subber (d0, q2, r0, m"+m2+", 'v/t', ... (2 bytes))",
		"Received PUBREC from subber (Mid: "+m2+")",
		"Sending PUBREL to subber (m"+m2+")",
		"Received PUBCOMP from subber (Mid: "+m2+", RC:0)")
}

// Without debug, none of it is written.
func TestPacketTraceOff(t *testing.T) {
	t.Parallel()
	logger, log := brokertest.NewLog(slog.LevelInfo)
	b := brokertest.Start(t, broker.Options{Logger: logger})
	c := brokertest.Connect(t, b.Addr, packets.V311, "quiet", true)
	c.Send(&packets.Pingreq{})
	c.Expect()
	c.Send(&packets.Disconnect{})
	log.WaitFor(t, "Client quiet disconnected.")
	for _, line := range log.Lines() {
		switch line {
		case "Sending CONNACK to quiet (0, 0)", "Received PINGREQ from quiet", "No will message specified.":
			t.Errorf("debug line %q written at level info", line)
		}
	}
}
