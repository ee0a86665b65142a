package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/midge-mqtt/midge/internal/brokercmd"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// midgeCmd is `midge broker -c CONF` run in this process, with a
// configuration file that holds `connection` sections; it can be stopped
// and started again over the same file and store.
type midgeCmd struct {
	t      *testing.T
	addr   string
	conf   string
	log    *mosquittotest.SyncBuffer
	cancel context.CancelFunc
	done   chan int
}

// startMidge writes "listener PORT 127.0.0.1", "allow_anonymous true" and
// then config to a file, and runs the broker command on it.
func startMidge(t *testing.T, config string) *midgeCmd {
	t.Helper()
	m := &midgeCmd{t: t, addr: mosquittotest.FreeAddr(t), conf: filepath.Join(t.TempDir(), "midge.conf"),
		log: &mosquittotest.SyncBuffer{}}
	port := m.addr[strings.LastIndex(m.addr, ":")+1:]
	text := "listener " + port + " 127.0.0.1\nallow_anonymous true\n" + config + "\n"
	if err := os.WriteFile(m.conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			t.Logf("midge log:\n%s", m.log)
		}
	})
	m.start()
	return m
}

func (m *midgeCmd) start() {
	m.t.Helper()
	mark := len(m.log.String())
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel, m.done = cancel, make(chan int, 1)
	go func(done chan int) {
		done <- brokercmd.Run(ctx, []string{"-c", m.conf}, brokercmd.Stdio{Out: m.log, Err: m.log})
	}(m.done)
	mosquittotest.WaitFor(m.t, 10*time.Second, "midge running", func() bool {
		select {
		case status := <-m.done:
			m.cancel = nil
			m.t.Fatalf("midge exited %d at start:\n%s", status, m.log.String()[mark:])
		default:
		}
		return strings.Contains(m.log.String()[mark:], " running\n")
	})
}

// stop shuts the broker down as SIGTERM does.
func (m *midgeCmd) stop() {
	if m.cancel == nil {
		return
	}
	m.cancel()
	m.cancel = nil
	select {
	case status := <-m.done:
		if status != 0 {
			m.t.Errorf("midge exited %d", status)
		}
	case <-time.After(15 * time.Second):
		m.t.Fatal("midge did not stop within 15s")
	}
}

// untilCrosses publishes QoS 0 probes on topic from one client until the
// other's inbox holds one, then drains the probes: the bridge is connected
// and its subscriptions are in place.
func untilCrosses(t *testing.T, from, to *pahoClient, topic string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; ; i++ {
		from.Publish(topic, 0, false, fmt.Sprintf("probe %d", i))
		select {
		case m := <-to.inbox.messages:
			if m.Topic() == topic {
				time.Sleep(100 * time.Millisecond) // late probes, drained below
				for len(to.inbox.messages) > 0 {
					<-to.inbox.messages
				}
				return
			}
			t.Fatalf("before the probe: %s", describe(m))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing published on %s crossed the bridge within 15s", topic)
		}
	}
}

// noMore fails the test when any of the clients got a message after the
// last one expected.
func noMore(t *testing.T, clients map[string]*pahoClient) {
	t.Helper()
	time.Sleep(duplicateWait) // waiting for what must not come: nothing to poll for
	for name, c := range clients {
		var extra []mqtt.Message
		for len(c.inbox.messages) > 0 {
			extra = append(extra, <-c.inbox.messages)
		}
		if len(extra) > 0 {
			t.Errorf("%s got more than expected: %s", name, describeAll(extra))
		}
	}
}

// remoteBroker is a bridge's remote for a test: Debian's mosquitto or
// another midge, which the test may stop and start again on the same port.
type remoteBroker interface {
	address() string
	stop()
	restart()
}

type mosquittoRemote struct{ *mosquittotest.Process }

func (r mosquittoRemote) address() string { return r.Addr }
func (r mosquittoRemote) stop()           { r.Stop() }
func (r mosquittoRemote) restart()        { r.Restart() }

func (m *midgeCmd) address() string { return m.addr }
func (m *midgeCmd) restart()        { m.start() }

// remotes are the kinds of remote each bridge test runs against; with
// persistent, the remote keeps its sessions across a restart.
var remotes = []struct {
	name  string
	start func(t *testing.T, persistent bool) remoteBroker
}{
	{"mosquitto", func(t *testing.T, persistent bool) remoteBroker {
		extra := "user root\n" // root: its files are in t.TempDir()
		if persistent {
			extra += "persistence true\npersistence_location " + t.TempDir() + "/\n"
		}
		return mosquittoRemote{mosquittotest.Run(t, mosquittotest.FreeAddr(t), extra)}
	}},
	{"midge", func(t *testing.T, persistent bool) remoteBroker {
		extra := ""
		if persistent {
			extra = "persistence true\npersistence_location " + t.TempDir() + "/\n"
		}
		return startMidge(t, extra)
	}},
}

// midge bridges to Debian's mosquitto, and to another midge, with a
// Mosquitto configuration: out, in, both (each message once on each side,
// no loop) and prefixes, at MQTT 3.1, 3.1.1 and 5; retained messages keep
// their flag.
func TestMidgeBridges(t *testing.T) {
	for _, r := range remotes {
		for _, version := range []string{"mqttv31", "mqttv311", "mqttv50"} {
			t.Run(r.name+"/"+version, func(t *testing.T) {
				testMidgeBridges(t, version, r.start(t, false).address())
			})
		}
	}
}

func testMidgeBridges(t *testing.T, version, remote string) {
	m := startMidge(t, "connection cloud\naddress "+remote+"\nremote_clientid pi\nbridge_protocol_version "+version+
		"\nrestart_timeout 1\ntopic sensors/# out 1\ntopic cmd/# in 1\ntopic both/# both 1\ntopic t/# out 1 local/ remote/\n")
	onMidge := connectPaho(t, m.addr, 4, uniqueClientID(), nil)
	onMidge.subscribe(t, "cmd/#", 1)
	onMidge.subscribe(t, "both/#", 1)
	onMosquitto := connectPaho(t, remote, 4, uniqueClientID(), nil)
	onMosquitto.subscribe(t, "sensors/#", 1)
	onMosquitto.subscribe(t, "remote/#", 1)
	onMosquitto.subscribe(t, "both/#", 1)
	untilCrosses(t, onMosquitto, onMidge, "cmd/probe")
	untilCrosses(t, onMidge, onMosquitto, "sensors/probe")

	onMidge.publish(t, "sensors/temp", 1, false, "21.5")
	expectMessage(t, onMosquitto.inbox.next(t, "sensors/temp out"), "sensors/temp", "21.5", 1, false)
	onMosquitto.publish(t, "cmd/lamp", 1, false, "on")
	expectMessage(t, onMidge.inbox.next(t, "cmd/lamp in"), "cmd/lamp", "on", 1, false)
	onMidge.publish(t, "local/t/1", 1, false, "prefixed")
	expectMessage(t, onMosquitto.inbox.next(t, "local/t/1 as remote/t/1"), "remote/t/1", "prefixed", 1, false)

	for _, from := range []string{"midge", "mosquitto"} {
		pub := map[string]*pahoClient{"midge": onMidge, "mosquitto": onMosquitto}[from]
		pub.publish(t, "both/"+from, 1, false, "from "+from)
		expectMessage(t, onMidge.inbox.next(t, "both/"+from+" on midge"), "both/"+from, "from "+from, 1, false)
		expectMessage(t, onMosquitto.inbox.next(t, "both/"+from+" on mosquitto"), "both/"+from, "from "+from, 1, false)
	}
	noMore(t, map[string]*pahoClient{"midge's subscriber": onMidge, "mosquitto's subscriber": onMosquitto})

	// A retained message crosses retained (bridge_outgoing_retain true)
	// and a subscriber that comes later gets it from mosquitto.
	onMidge.publish(t, "sensors/retained", 1, true, "kept")
	expectMessage(t, onMosquitto.inbox.next(t, "sensors/retained"), "sensors/retained", "kept", 1, false)
	clearRetained(t, remote, "sensors/retained")
	late := connectPaho(t, remote, 4, uniqueClientID(), nil)
	late.subscribe(t, "sensors/retained", 1)
	expectMessage(t, late.inbox.next(t, "retained sensors/retained"), "sensors/retained", "kept", 1, true)
}

// Nothing acknowledged is lost while the remote is away: QoS 1 messages
// published while the remote (mosquitto or midge) is down, across a
// restart of midge itself (the bridge's local session is in midge's
// store), all reach a persistent subscriber on the remote once both are
// back.
func TestMidgeBridgeKeepsQueuedMessagesAcrossRestarts(t *testing.T) {
	for _, r := range remotes {
		t.Run(r.name, func(t *testing.T) { testMidgeBridgeKeepsQueued(t, r.start(t, true)) })
	}
}

func testMidgeBridgeKeepsQueued(t *testing.T, remote remoteBroker) {
	const n = 50
	keeper := connectPaho(t, remote.address(), 4, "keeper", func(o *mqtt.ClientOptions) { o.SetCleanSession(false) })
	keeper.subscribe(t, "sensors/#", 1)
	keeper.Disconnect(100)

	m := startMidge(t, "persistence true\npersistence_location "+t.TempDir()+"/\n"+
		"connection cloud\naddress "+remote.address()+"\nremote_clientid pi\nrestart_timeout 1\ntopic sensors/# out 1\n")
	onMidge := connectPaho(t, m.addr, 4, uniqueClientID(), nil)
	watch := connectPaho(t, remote.address(), 4, uniqueClientID(), nil)
	watch.subscribe(t, "sensors/#", 1)
	untilCrosses(t, onMidge, watch, "sensors/probe")

	remote.stop()
	for i := range n {
		onMidge.publish(t, "sensors/queued", 1, false, fmt.Sprint(i))
	}
	onMidge.Disconnect(100)
	m.stop()
	m.start()
	remote.restart()

	keeper = connectPaho(t, remote.address(), 4, "keeper", func(o *mqtt.ClientOptions) { o.SetCleanSession(false) })
	if !keeper.sessionPresent {
		t.Fatal("the remote lost the keeper's session across its restart")
	}
	got := map[string]int{}
	for len(got) < n {
		msg := keeper.inbox.next(t, fmt.Sprintf("queued messages (%d of %d so far)", len(got), n))
		if msg.Topic() == "sensors/queued" {
			got[string(msg.Payload())]++
		}
	}
	for i := range n {
		if got[fmt.Sprint(i)] == 0 {
			t.Errorf("message %d was lost", i)
		}
	}
}

// TLS to the remote with certificates from `midge cert`: midge checks
// mosquitto's certificate against bridge_cafile and presents its own
// (bridge_certfile, bridge_keyfile) to a listener that requires one.
func TestMidgeBridgesToMosquittoOverTLS(t *testing.T) {
	dir := t.TempDir()
	makeCerts(t, dir, "bridge")
	tlsAddr := mosquittotest.FreeAddr(t)
	_, tlsPort, _ := strings.Cut(tlsAddr, ":")
	remote := mosquittotest.Start(t, fmt.Sprintf("user root\nlistener %s 127.0.0.1\ncafile %s/ca.crt\ncertfile %s/server.crt\n"+
		"keyfile %s/server.key\nrequire_certificate true\n", tlsPort, dir, dir, dir))
	m := startMidge(t, fmt.Sprintf("connection cloud\naddress %s\nremote_clientid pi\nrestart_timeout 1\ntopic tls/# both 1\n"+
		"bridge_cafile %s/ca.crt\nbridge_certfile %s/bridge.crt\nbridge_keyfile %s/bridge.key\n", tlsAddr, dir, dir, dir))
	onMidge := connectPaho(t, m.addr, 4, uniqueClientID(), nil)
	onMosquitto := connectPaho(t, remote, 4, uniqueClientID(), nil)
	onMosquitto.subscribe(t, "tls/#", 1)
	untilCrosses(t, onMidge, onMosquitto, "tls/probe")
	onMidge.subscribe(t, "tls/#", 1)
	onMosquitto.publish(t, "tls/back", 1, false, "over TLS")
	expectMessage(t, onMidge.inbox.next(t, "tls/back from mosquitto"), "tls/back", "over TLS", 1, false)
}

// With bridge_protocol_version mqttv50 a message's MQTT 5 properties cross
// to mosquitto as published: user properties in order, content type,
// response topic, correlation data, payload format, message expiry.
func TestMidgeBridgeKeepsV5Properties(t *testing.T) {
	remote := mosquittotest.Start(t, "")
	m := startMidge(t, "connection cloud\naddress "+remote+"\nremote_clientid pi\nbridge_protocol_version mqttv50"+
		"\nrestart_timeout 1\ntopic v5/# out 1\n")
	onMidge := connectPaho(t, m.addr, 4, uniqueClientID(), nil)
	probe := connectPaho(t, remote, 4, uniqueClientID(), nil)
	probe.subscribe(t, "v5/probe", 1)
	untilCrosses(t, onMidge, probe, "v5/probe")

	sub := connectV5(t, remote, uniqueClientID(), nil)
	sub.subscribe(t, 0, paho.SubscribeOptions{Topic: "v5/data", QoS: 1})
	pub := connectV5(t, m.addr, uniqueClientID(), nil)
	format := byte(1)
	props := &paho.PublishProperties{ContentType: "application/json", ResponseTopic: "v5/reply",
		CorrelationData: []byte{7, 8}, PayloadFormat: &format, MessageExpiry: ptr(uint32(3600))}
	props.User.Add("k", "first").Add("k", "second").Add("a", "b")
	pub.publish(t, &paho.Publish{Topic: "v5/data", QoS: 1, Payload: []byte(`{"v":1}`), Properties: props})

	got := sub.next(t, "v5/data across the bridge")
	gp := got.Properties
	if string(got.Payload) != `{"v":1}` || gp == nil || gp.ContentType != "application/json" || gp.ResponseTopic != "v5/reply" ||
		string(gp.CorrelationData) != "\x07\x08" || gp.PayloadFormat == nil || *gp.PayloadFormat != 1 ||
		gp.MessageExpiry == nil || *gp.MessageExpiry == 0 || *gp.MessageExpiry > 3600 {
		t.Fatalf("mosquitto's subscriber got %+v %+v", got, gp)
	}
	if len(gp.User) != 3 || gp.User[0] != (paho.UserProperty{Key: "k", Value: "first"}) ||
		gp.User[1] != (paho.UserProperty{Key: "k", Value: "second"}) || gp.User[2] != (paho.UserProperty{Key: "a", Value: "b"}) {
		t.Fatalf("user properties %+v, want k=first, k=second, a=b in order", gp.User)
	}
}

func ptr[T any](v T) *T { return &v }

// Debian's mosquitto as the local side, bridging to midge: out, in and
// prefixes; and QoS 1 messages mosquitto queues while midge is down reach
// a persistent subscriber on midge after midge restarts over its store.
func TestMosquittoBridgesToMidge(t *testing.T) {
	remote := startMidge(t, "persistence true\npersistence_location "+t.TempDir()+"/\n")
	keeper := connectPaho(t, remote.addr, 4, "keeper", func(o *mqtt.ClientOptions) { o.SetCleanSession(false) })
	keeper.subscribe(t, "sensors/#", 1)
	keeper.Disconnect(100)
	local := mosquittotest.Start(t, "connection midge\naddress "+remote.addr+"\nremote_clientid workshop\ncleansession false\n"+
		"restart_timeout 1\ntopic sensors/# out 1\ntopic cmd/# in 1\ntopic t/# out 1 local/ remote/\n")

	onLocal := connectPaho(t, local, 4, uniqueClientID(), nil)
	onLocal.subscribe(t, "cmd/#", 1)
	onRemote := connectPaho(t, remote.addr, 4, uniqueClientID(), nil)
	onRemote.subscribe(t, "remote/#", 1)
	untilCrosses(t, onRemote, onLocal, "cmd/probe")
	onRemote.subscribe(t, "sensors/#", 1)
	untilCrosses(t, onLocal, onRemote, "sensors/probe")
	onLocal.publish(t, "local/t/1", 1, false, "prefixed")
	expectMessage(t, onRemote.inbox.next(t, "local/t/1 as remote/t/1"), "remote/t/1", "prefixed", 1, false)
	onRemote.publish(t, "cmd/lamp", 1, false, "on")
	expectMessage(t, onLocal.inbox.next(t, "cmd/lamp in"), "cmd/lamp", "on", 1, false)

	const n = 50
	remote.stop()
	for i := range n {
		onLocal.publish(t, "sensors/queued", 1, false, fmt.Sprint(i))
	}
	remote.start()
	keeper = connectPaho(t, remote.addr, 4, "keeper", func(o *mqtt.ClientOptions) { o.SetCleanSession(false) })
	if !keeper.sessionPresent {
		t.Fatal("midge lost the keeper's session across its restart")
	}
	// Mosquitto 2.0 retries a lost bridge some seconds after it noticed
	// the loss, whatever restart_timeout says: allow 30s.
	got := map[string]int{}
	deadline := time.After(30 * time.Second)
	for len(got) < n {
		select {
		case msg := <-keeper.inbox.messages:
			if msg.Topic() == "sensors/queued" {
				got[string(msg.Payload())]++
			}
		case <-deadline:
			t.Fatalf("%d of %d queued messages arrived within 30s of midge's restart", len(got), n)
		}
	}
}
