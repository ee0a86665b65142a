package broker_test

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/auth"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/store"
	"github.com/midge-mqtt/midge/packets"
)

// aclAuthorizer is an Authorizer from ACL file text, as the broker command
// makes one, that also records who it was asked about.
type aclAuthorizer struct {
	acl  *auth.ACL
	mu   sync.Mutex
	seen []broker.ConnectInfo
}

func newACLAuthorizer(t *testing.T, text string) *aclAuthorizer {
	t.Helper()
	acl, err := auth.ParseACL("acl", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return &aclAuthorizer{acl: acl}
}

func (a *aclAuthorizer) Access(info broker.ConnectInfo) broker.TopicAccess {
	a.mu.Lock()
	a.seen = append(a.seen, info)
	a.mu.Unlock()
	return a.acl.ForClient(info.ClientID, info.Username, info.HasUsername)
}

// askedAbout reports whether Access was called for the client and user.
func (a *aclAuthorizer) askedAbout(clientID, user string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, info := range a.seen {
		if info.ClientID == clientID && info.Username == user && info.HasUsername {
			return true
		}
	}
	return false
}

// check_retain_source outlives a restart: the store keeps the client
// identifier and user name of each retained message's publisher, so a
// broker restarted on the same store still withholds a retained message
// whose publisher has lost its write access, as Mosquitto does (it
// persists source_id and source_username), and still hands it out while
// the access stands, %c patterns included.
func TestRetainSourceSurvivesRestart(t *testing.T) {
	t.Parallel()
	const before = "user writer\ntopic write r/#\npattern write c/%c/#\nuser reader\ntopic read #\n"
	for _, tc := range []struct {
		name      string
		topic     string
		after     string // the ACL file after the restart
		delivered bool
	}{
		{"write kept", "r/x", before, true},
		{"write revoked", "r/x", "user writer\ntopic write elsewhere/#\nuser reader\ntopic read #\n", false},
		{"pattern kept", "c/pub-id/x", before, true},
		{"pattern now on the user name", "c/pub-id/x", "pattern write c/%u/#\nuser reader\ntopic read #\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			st, closeStore := openDisk(t, dir)
			b := brokertest.Start(t, broker.Options{Store: st, Authorizer: newACLAuthorizer(t, before)})
			pub := brokertest.ConnectUser(t, b.Addr, packets.V311, "pub-id", "writer", true)
			pub.Send(&packets.Publish{QoS: 1, Retain: true, Topic: tc.topic, PacketID: 1, Payload: []byte("kept")})
			expectAck(t, pub, packets.TypePuback, 1)
			b.Stop()
			closeStore()

			after := newACLAuthorizer(t, tc.after)
			st, _ = openDisk(t, dir)
			b = brokertest.Start(t, broker.Options{Store: st, Authorizer: after})
			sub := brokertest.ConnectUser(t, b.Addr, packets.V311, "sub", "reader", true)
			subscribe(t, sub, "#", 0)
			if tc.delivered {
				if p := expectPublish(t, sub); p.Topic != tc.topic || string(p.Payload) != "kept" || !p.Retain {
					t.Fatalf("got %+v, want the retained %s", p, tc.topic)
				}
			}
			expectNothing(t, sub)
			if !after.askedAbout("pub-id", "writer") {
				t.Errorf("Access calls %+v: none for the publisher pub-id/writer", after.seen)
			}
		})
	}
}

// A delayed MQTT 5 will that is retained keeps its client as its source
// across a restart too: released after the restart by a broker on which
// its client may no longer write the topic, it is not handed to later
// subscribers.
func TestRetainSourceOfHeldWillSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writer := "user writer\ntopic write w/#\nuser reader\ntopic read #\n"
	st, closeStore := openDisk(t, dir)
	b := brokertest.Start(t, broker.Options{Store: st, Authorizer: newACLAuthorizer(t, writer)})
	c := brokertest.Dial(t, b.Addr, packets.V5)
	p := &packets.Connect{ProtocolName: "MQTT", Version: packets.V5, KeepAlive: 60, ClientID: "will-id",
		Username: "writer", UsernameFlag: true}
	withWill("w/gone", 1, 3600)(p)
	p.Will.Retain = true
	c.Send(p)
	if ack, ok := c.Expect().(*packets.Connack); !ok || ack.ReasonCode != 0 {
		t.Fatalf("got %+v, want CONNACK 0", ack)
	}
	c.Net.Close() // no DISCONNECT: the will waits for its delay
	waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 0 })
	b.Stop()
	closeStore()

	after := newACLAuthorizer(t, "user reader\ntopic read #\n")
	st, _ = openDisk(t, dir)
	b = brokertest.Start(t, broker.Options{Store: st, Authorizer: after})
	waitFor(t, func() bool { return b.Server.Stats().Retained == 1 }) // the will, released
	late := brokertest.ConnectUser(t, b.Addr, packets.V311, "late", "reader", true)
	subscribe(t, late, "w/#", 0)
	expectNothing(t, late)
	if !after.askedAbout("will-id", "writer") {
		t.Errorf("Access calls %+v: none for the will's client", after.seen)
	}
}

// retainedRecord is a retained message record as the previous version
// wrote it: format 1, no expiry, the MQTT 5 PUBLISH; no publisher.
func retainedRecord(t *testing.T, name, payload string) []byte {
	t.Helper()
	record := make([]byte, 9)
	record[0] = 1
	record, err := (&packets.Publish{Retain: true, Topic: name, Payload: []byte(payload)}).Encode(record, packets.V5)
	if err != nil {
		t.Fatal(err)
	}
	return record
}

// A retained message recorded by the previous version, without its
// publisher, loads as before and is handed out: with no source to check,
// check_retain_source does not apply to it, as Mosquitto skips the check
// for a message without a source_id.
func TestRetainedWithoutSourceLoads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, closeStore := openDisk(t, dir)
	done := make(chan error, 1)
	st.Write([][]byte{[]byte("r\x00old/x")}, [][]byte{retainedRecord(t, "old/x", "from before")}, true, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	closeStore()
	var log syncBuffer
	st, _ = openDisk(t, dir)
	b := brokertest.Start(t, broker.Options{Store: st, Logger: slog.New(slog.NewTextHandler(&log, nil)),
		Authorizer: newACLAuthorizer(t, "user reader\ntopic read #\n")})
	sub := brokertest.ConnectUser(t, b.Addr, packets.V311, "sub", "reader", true)
	subscribe(t, sub, "old/#", 0)
	if p := expectPublish(t, sub); p.Topic != "old/x" || string(p.Payload) != "from before" || !p.Retain {
		t.Fatalf("got %+v", p)
	}
	if !strings.Contains(log.String(), "1 retained messages in the store have no recorded publisher") {
		t.Errorf("no log line about the message without a publisher:\n%s", log.String())
	}
}

// A retained record whose publisher is cut short is damage: Open refuses
// it rather than guess.
func TestRetainedSourceDamaged(t *testing.T) {
	t.Parallel()
	good := retainedRecord(t, "t", "x")
	for _, record := range [][]byte{
		{2},
		{2, 0, 0, 5, 'a'},
		{2, 7, 0, 0, 0, 0},
		{2, 1, 0, 1, 'c', 0, 9},
		append([]byte{2, 1, 0, 1, 'c', 0, 1, 'u'}, good[:5]...),
	} {
		st := new(store.Memory)
		st.Write([][]byte{[]byte("r\x00t")}, [][]byte{record}, true, nil)
		if _, err := broker.Open(broker.Options{Store: st}); !errors.Is(err, broker.ErrStoreDamaged) {
			t.Errorf("record %v: Open = %v, want ErrStoreDamaged", record, err)
		}
	}
}
