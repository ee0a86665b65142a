//go:build !windows

package interop

import (
	"cmp"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
	"github.com/midge-mqtt/midge/packets"
)

// crashBroker runs the midge binary with persistence on in dir, and can
// kill it with SIGKILL and start it again over the same store.
type crashBroker struct {
	t         *testing.T
	bin, conf string
	addr      string
	storeDir  string
	cmd       *exec.Cmd
	exited    chan struct{}
	log       *mosquittotest.SyncBuffer
	extra     string // more configuration lines
}

// writeConf writes the configuration for b.addr and b.storeDir.
func (b *crashBroker) writeConf() {
	port := b.addr[strings.LastIndex(b.addr, ":")+1:]
	os.WriteFile(b.conf, []byte(strings.Join([]string{
		"listener " + port + " 127.0.0.1", "allow_anonymous true",
		"persistence true", "persistence_location " + b.storeDir + "/", "max_queued_messages 0", b.extra,
	}, "\n")), 0o600)
}

// newCrashBroker starts it with its store in storeDir, or in a temporary
// directory when storeDir is empty.
func newCrashBroker(t *testing.T, storeDir string) *crashBroker {
	t.Helper()
	return newCrashBrokerWith(t, storeDir, "")
}

// newCrashBrokerWith is newCrashBroker with extra lines in its
// configuration.
func newCrashBrokerWith(t *testing.T, storeDir, extra string) *crashBroker {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the midge binary and kills it")
	}
	dir := t.TempDir()
	storeDir = cmp.Or(storeDir, dir)
	b := &crashBroker{t: t, bin: filepath.Join(dir, "midge"), conf: filepath.Join(dir, "midge.conf"),
		addr: mosquittotest.FreeAddr(t), log: &mosquittotest.SyncBuffer{}, extra: extra}
	if out, err := exec.Command("go", "build", "-o", b.bin, "../cmd/midge").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b.storeDir = storeDir
	b.writeConf()
	t.Cleanup(func() {
		b.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("broker log:\n%s", b.log)
		}
	})
	b.start()
	return b
}

// start runs the broker and waits until it says it is running. A port
// that another test took meanwhile (FreeAddr only found it free) makes the
// broker exit at once: it then moves to another port, since a test that
// dialled the port would reach the other test's broker.
func (b *crashBroker) start() {
	b.t.Helper()
	for attempt := 1; ; attempt++ {
		mark := len(b.log.String())
		b.cmd = exec.Command(b.bin, "broker", "-c", b.conf)
		b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
		if err := b.cmd.Start(); err != nil {
			b.t.Fatal(err)
		}
		b.exited = make(chan struct{})
		go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); close(exited) }(b.cmd, b.exited)
		exited := false
		mosquittotest.WaitFor(b.t, 10*time.Second, "broker running", func() bool {
			select {
			case <-b.exited:
				exited = true
				return true
			default:
			}
			return strings.Contains(b.log.String()[mark:], " running\n")
		})
		if !exited {
			return
		}
		if attempt == 3 || !strings.Contains(b.log.String()[mark:], "address already in use") {
			b.t.Fatalf("the broker exited at start:\n%s", b.log.String()[mark:])
		}
		b.addr = mosquittotest.FreeAddr(b.t)
		b.writeConf()
	}
}

func (b *crashBroker) stop(sig syscall.Signal) {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(sig)
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		b.cmd.Process.Kill()
		<-b.exited
	}
	b.cmd = nil
}

// publishUntilCut sends QoS qos messages "P-N" as fast as acknowledgements
// allow (up to 16 unacknowledged) until the connection breaks, and returns
// the N the broker acknowledged (PUBACK, or PUBREC for QoS 2).
func publishUntilCut(c *brokertest.Conn, name string, qos byte, retain bool, acked *[]int, mu *sync.Mutex) {
	c.Timeout = 10 * time.Second
	window := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			p, err := c.Read()
			if err != nil {
				return
			}
			a, ok := p.(*packets.Ack)
			if !ok {
				continue
			}
			if a.Kind == packets.TypePuback || a.Kind == packets.TypePubrec {
				mu.Lock()
				*acked = append(*acked, int(a.PacketID))
				mu.Unlock()
				if a.Kind == packets.TypePubrec {
					c.Net.Write(mustEncode(&packets.Ack{Kind: packets.TypePubrel, PacketID: a.PacketID}))
					continue
				}
			}
			if a.Kind == packets.TypePuback || a.Kind == packets.TypePubcomp {
				<-window
			}
		}
	}()
	for n := 1; n < 60000; n++ {
		select {
		case window <- struct{}{}:
		case <-done:
			return
		}
		topic := "crash/" + name
		if retain {
			topic = fmt.Sprintf("crash/%s/%d", name, n)
		}
		p := &packets.Publish{Topic: topic, QoS: qos, Retain: retain, PacketID: uint16(n), Payload: []byte(fmt.Sprintf("%s-%d", name, n))}
		if _, err := c.Net.Write(mustEncode(p)); err != nil {
			<-done
			return
		}
	}
	<-done
}

func mustEncode(p packets.Packet) []byte {
	b, err := p.Encode(nil, packets.V311)
	if err != nil {
		panic(err)
	}
	return b
}

// Kill -9 in the middle of QoS 1 and QoS 2 streams from several publishers
// to an offline persistent session; after a restart the subscriber gets
// every message whose acknowledgement the publishers received, in order per
// publisher, and at QoS 2 none twice.
func TestCrashKeepsAcknowledgedMessages(t *testing.T) {
	for _, qos := range []byte{1, 2} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			b := newCrashBroker(t, "")
			sub := brokertest.Connect(t, b.addr, packets.V311, "durable", false)
			sub.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "crash/#", QoS: qos}}})
			sub.Expect()
			sub.Net.Close()

			const publishers = 4
			acked := make([][]int, publishers)
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := range publishers {
				// Connected here: a goroutine must not fail the test.
				name := fmt.Sprintf("p%d", i)
				c := brokertest.Connect(t, b.addr, packets.V311, name, true)
				wg.Add(1)
				go func() {
					defer wg.Done()
					publishUntilCut(c, name, qos, false, &acked[i], &mu)
				}()
			}
			time.Sleep(700 * time.Millisecond)
			b.stop(syscall.SIGKILL)
			wg.Wait()
			b.start()

			got := receiveAll(t, b.addr, qos)
			total := 0
			for i := range publishers {
				name := fmt.Sprintf("p%d", i)
				seq := got[name]
				total += len(acked[i])
				seen := make(map[int]bool)
				for j, n := range seq {
					if j > 0 && n <= seq[j-1] && (qos == 2 || n < seq[j-1]) {
						t.Fatalf("%s: %d after %d: out of order (or repeated at QoS 2)", name, n, seq[j-1])
					}
					seen[n] = true
				}
				for _, n := range acked[i] {
					if !seen[n] {
						t.Fatalf("%s: message %d was acknowledged and then lost (received %d of %d acknowledged)", name, n, len(seq), len(acked[i]))
					}
				}
			}
			if total == 0 {
				t.Fatal("no message was acknowledged before the kill: the test proved nothing")
			}
			t.Logf("QoS %d: %d messages acknowledged before SIGKILL, all received after the restart", qos, total)
		})
	}
}

// receiveAll resumes the persistent subscriber and collects the numbers of
// the messages it gets, per publisher, until none comes for a second.
func receiveAll(t *testing.T, addr string, qos byte) map[string][]int {
	c := brokertest.Dial(t, addr, packets.V311)
	c.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, KeepAlive: 60, ClientID: "durable"})
	if ack, ok := c.Expect().(*packets.Connack); !ok || !ack.SessionPresent {
		t.Fatalf("after the restart: %+v, want the session present", ack)
	}
	c.Timeout = time.Second
	got := make(map[string][]int)
	for {
		p, err := c.Read()
		if err != nil {
			return got
		}
		switch p := p.(type) {
		case *packets.Publish:
			name, num, _ := strings.Cut(string(p.Payload), "-")
			var n int
			fmt.Sscan(num, &n)
			got[name] = append(got[name], n)
			if p.QoS == 1 {
				c.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
			} else if p.QoS == 2 {
				c.Send(&packets.Ack{Kind: packets.TypePubrec, PacketID: p.PacketID})
			}
		case *packets.Ack:
			if p.Kind == packets.TypePubrel {
				c.Send(&packets.Ack{Kind: packets.TypePubcomp, PacketID: p.PacketID})
			}
		}
	}
}

// Retained messages acknowledged before a kill -9 are there after the
// restart.
func TestCrashKeepsRetainedMessages(t *testing.T) {
	b := newCrashBroker(t, "")
	var acked []int
	var mu sync.Mutex
	done := make(chan struct{})
	pub := brokertest.Connect(t, b.addr, packets.V311, "r", true)
	go func() {
		defer close(done)
		publishUntilCut(pub, "r", 1, true, &acked, &mu)
	}()
	time.Sleep(500 * time.Millisecond)
	b.stop(syscall.SIGKILL)
	<-done
	b.start()
	c := brokertest.Connect(t, b.addr, packets.V311, "reader", true)
	c.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "crash/r/#"}}})
	c.Expect()
	c.Timeout = time.Second
	seen := make(map[string]bool)
	for {
		p, err := c.Read()
		if err != nil {
			break
		}
		if m, ok := p.(*packets.Publish); ok {
			seen[m.Topic] = true
		}
	}
	if len(acked) == 0 {
		t.Fatal("nothing acknowledged before the kill")
	}
	for _, n := range acked {
		if topic := fmt.Sprintf("crash/r/%d", n); !seen[topic] {
			t.Fatalf("retained %s acknowledged, lost after the restart (%d of %d there)", topic, len(seen), len(acked))
		}
	}
}

// A clean stop (SIGTERM) and restart keeps everything: retained messages,
// the persistent session with its subscription, and the messages queued
// for it; a session that expired while the broker was down is gone.
func TestCleanRestartKeepsEverything(t *testing.T) {
	b := newCrashBroker(t, "")
	away := brokertest.Connect(t, b.addr, packets.V311, "away", false)
	away.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "clean/#", QoS: 1}}})
	away.Expect()
	away.Net.Close()
	brief := brokertest.Dial(t, b.addr, packets.V5)
	conn := &packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: true, KeepAlive: 60, ClientID: "brief"}
	conn.Properties.SessionExpiry = 1
	conn.Properties.Set(packets.PropSessionExpiry)
	brief.Send(conn)
	brief.Expect()
	brief.Net.Close()
	pub := brokertest.Connect(t, b.addr, packets.V311, "pub", true)
	pub.Send(&packets.Publish{Topic: "clean/retained", Retain: true, QoS: 1, PacketID: 1, Payload: []byte("kept")})
	pub.Expect()
	pub.Send(&packets.Publish{Topic: "clean/queued", QoS: 1, PacketID: 2, Payload: []byte("waiting")})
	pub.Expect()
	b.stop(syscall.SIGTERM)
	time.Sleep(1100 * time.Millisecond) // brief's session expires while the broker is down
	b.start()

	c := brokertest.Dial(t, b.addr, packets.V311)
	c.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, KeepAlive: 60, ClientID: "away"})
	if ack, ok := c.Expect().(*packets.Connack); !ok || !ack.SessionPresent {
		t.Fatalf("got %+v, want the session present", ack)
	}
	got := make(map[string]string)
	for range 2 {
		p, ok := c.Expect().(*packets.Publish)
		if !ok {
			t.Fatalf("got %+v", p)
		}
		got[p.Topic] = string(p.Payload)
		c.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
	}
	if got["clean/retained"] != "kept" || got["clean/queued"] != "waiting" {
		t.Fatalf("after the restart got %v", got)
	}
	br := brokertest.Dial(t, b.addr, packets.V5)
	conn.CleanStart = false
	br.Send(conn)
	if ack, ok := br.Expect().(*packets.Connack); !ok || ack.SessionPresent {
		t.Fatalf("brief's session, expired while the broker was down, came back: %+v", ack)
	}
}

// A full disk: publishers get no acknowledgement (MQTT 5: 0x80) for what
// cannot be stored, nothing is acknowledged that is not on disk, and QoS 0
// messages keep flowing. The store lives on a small tmpfs (root only).
func TestFullDisk(t *testing.T) {
	disk := mosquittotest.SmallDisk(t, 64)
	b := newCrashBroker(t, disk)

	away := brokertest.Connect(t, b.addr, packets.V311, "away", false)
	away.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "full/#", QoS: 1}}})
	away.Expect()
	away.Net.Close()
	live := brokertest.Connect(t, b.addr, packets.V311, "live", true)
	live.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "zero"}}})
	live.Expect()

	pub := brokertest.Dial(t, b.addr, packets.V5)
	pub.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: true, KeepAlive: 60, ClientID: "pub"})
	pub.Expect()
	payload := make([]byte, 16<<10)
	rand.Read(payload) // incompressible: the store compresses its tables
	refused := false
	for n := 1; n < 8000 && !refused; n++ {
		pub.Send(&packets.Publish{Topic: "full/x", QoS: 1, PacketID: uint16(n), Payload: payload})
		a, ok := pub.Expect().(*packets.Ack)
		if !ok {
			t.Fatalf("message %d: got %+v", n, a)
		}
		refused = a.ReasonCode == packets.UnspecifiedError
	}
	if !refused {
		t.Fatal("128 MB went into a 64 MB disk without a refusal")
	}
	qos0 := brokertest.Connect(t, b.addr, packets.V311, "qos0", true)
	qos0.Send(&packets.Publish{Topic: "zero", Payload: []byte("still flowing")})
	if p, ok := live.Expect().(*packets.Publish); !ok || string(p.Payload) != "still flowing" {
		t.Fatalf("QoS 0 after the disk filled: %+v", p)
	}
}
