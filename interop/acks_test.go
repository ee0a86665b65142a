package interop

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// ackOutcome sends one acknowledgement to addr, as a 3.1.1 subscriber, and
// tells what the broker did: "open" when it answered the PINGREQ sent
// after, "closed" when it closed the connection. With delivery it first
// takes a message published at qos and acknowledges that delivery's
// packet identifier; without, it acknowledges identifier 5, which is in
// flight nowhere.
func ackOutcome(t *testing.T, addr string, delivery bool, qos byte, ack byte) string {
	t.Helper()
	filter := fmt.Sprintf("acks/%d/%X/%t", qos, ack, delivery)
	sub := connectRaw(t, addr, rawConnect{level: 4, clientID: "ack-sub", clean: true, keepAlive: 60})
	defer sub.conn.Close()
	id := uint16(5)
	if delivery {
		body := binary.BigEndian.AppendUint16(nil, 1)
		body = append(appendString(body, filter), qos)
		sub.write(t, appendPacket(nil, 0x82, body))
		sub.expectPacket(t, 0x90, "SUBACK")

		pub := connectRaw(t, addr, rawConnect{level: 4, clientID: "ack-pub", clean: true, keepAlive: 60})
		defer pub.conn.Close()
		msg := binary.BigEndian.AppendUint16(appendString(nil, filter), 7)
		pub.write(t, appendPacket(nil, 0x30|qos<<1, append(msg, 'x')))
		if qos == 2 {
			pub.expectPacket(t, 0x50, "PUBREC")
			pub.write(t, []byte{0x62, 2, 0, 7})
		}
		first, body, err := sub.readPacket(time.Now().Add(waitTimeout))
		if err != nil || first>>4 != 3 {
			t.Fatalf("waiting for the delivery: packet 0x%02X, %v", first, err)
		}
		n := int(binary.BigEndian.Uint16(body))
		id = binary.BigEndian.Uint16(body[2+n:])
	}
	sub.write(t, binary.BigEndian.AppendUint16([]byte{ack, 2}, id))
	sub.write(t, []byte{typePingreq, 0})
	deadline := time.Now().Add(waitTimeout)
	var netErr net.Error
	for {
		first, _, err := sub.readPacket(deadline)
		switch {
		case errors.As(err, &netErr) && netErr.Timeout():
			t.Fatalf("%s: neither PINGRESP nor a close in %v", addr, waitTimeout)
		case err != nil:
			return "closed" // EOF or reset
		case first == typePingresp:
			return "open"
		}
		// A PUBREL or PUBCOMP answering the acknowledgement: read on.
	}
}

// An acknowledgement out of step with the delivery it names (wrong QoS, or
// PUBCOMP before PUBREC) makes Debian's mosquitto and midge disconnect;
// one naming an identifier in flight nowhere is ignored by both (it may be
// a duplicate from before a reconnection).
func TestAcknowledgementsAsMosquitto(t *testing.T) {
	mosquittotest.NeedBinary(t, "mosquitto")
	mosquitto := mosquittotest.Start(t, "")
	midge := startSecureBroker(t, t.TempDir(), "listener {port} 127.0.0.1\nallow_anonymous true\n").addr
	const (
		puback  = 0x40
		pubrec  = 0x50
		pubrel  = 0x62
		pubcomp = 0x70
	)
	for _, tc := range []struct {
		name     string
		delivery bool
		qos      byte
		ack      byte
		want     string
	}{
		{"PUBACK for no delivery", false, 0, puback, "open"},
		{"PUBREC for no delivery", false, 0, pubrec, "open"},
		{"PUBREL for no message", false, 0, pubrel, "open"},
		{"PUBCOMP for no delivery", false, 0, pubcomp, "open"},
		{"PUBACK for QoS 2", true, 2, puback, "closed"},
		{"PUBCOMP before PUBREC", true, 2, pubcomp, "closed"},
		{"PUBREC for QoS 1", true, 1, pubrec, "closed"},
		{"PUBCOMP for QoS 1", true, 1, pubcomp, "closed"},
		{"PUBACK for QoS 1", true, 1, puback, "open"},
		{"PUBREC for QoS 2", true, 2, pubrec, "open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := ackOutcome(t, mosquitto, tc.delivery, tc.qos, tc.ack)
			if want != tc.want {
				t.Fatalf("mosquitto: connection %s, this test expects %s", want, tc.want)
			}
			if got := ackOutcome(t, midge, tc.delivery, tc.qos, tc.ack); got != want {
				t.Errorf("midge: connection %s, mosquitto's %s", got, want)
			}
		})
	}
}
