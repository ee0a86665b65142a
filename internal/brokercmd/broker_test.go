package brokercmd

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/auth"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
	"github.com/midge-mqtt/midge/packets"
)

// runBroker runs `midge broker args...` until the test ends and returns
// its log.
func runBroker(t *testing.T, args ...string) *mosquittotest.SyncBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := &mosquittotest.SyncBuffer{}
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, Stdio{Out: log, Err: log}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case status := <-done:
			if status != 0 {
				t.Errorf("broker exited %d; log:\n%s", status, log)
			}
		case <-time.After(10 * time.Second):
			t.Error("broker did not stop within 10s of cancellation")
		}
	})
	return log
}

// splitAddr splits "host:port".
func splitAddr(t *testing.T, addr string) (string, string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}

// connackCode dials addr until it answers and returns the CONNACK code of
// an anonymous MQTT 3.1.1 CONNECT.
func connackCode(t *testing.T, addr string) packets.ReasonCode {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("broker not listening on %s: %v", addr, err)
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		defer nc.Close()
		b, _ := (&packets.Connect{ProtocolName: "MQTT", Version: 4, CleanStart: true, KeepAlive: 10, ClientID: "probe"}).Encode(nil, 4)
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		nc.Write(b)
		h, body, err := packets.NewReader(nc, 64).ReadFrame()
		if err != nil {
			t.Fatalf("reading CONNACK: %v", err)
		}
		p, err := packets.Decode(h, body, 4)
		if err != nil {
			t.Fatal(err)
		}
		return p.(*packets.Connack).ReasonCode
	}
}

func TestBrokerLocalOnlyDefault(t *testing.T) {
	addr := mosquittotest.FreeAddr(t)
	_, port := splitAddr(t, addr)
	log := runBroker(t, "-p", port)
	if code := connackCode(t, addr); code != 0 {
		t.Fatalf("CONNACK %d, want 0: local-only mode admits anonymous clients", code)
	}
	if !strings.Contains(log.String(), "local only mode") {
		t.Errorf("log does not say it is local only:\n%s", log)
	}
}

// A configuration file without a listener also means local-only mode; the
// advice then names the file rather than telling the user to pass -c.
func TestBrokerLocalOnlyWithConfigFile(t *testing.T) {
	addr := mosquittotest.FreeAddr(t)
	_, port := splitAddr(t, addr)
	path := filepath.Join(t.TempDir(), "nolistener.conf")
	os.WriteFile(path, []byte("allow_anonymous true\n"), 0o600)
	log := runBroker(t, "-c", path, "-p", port)
	if code := connackCode(t, addr); code != 0 {
		t.Fatalf("CONNACK %d, want 0", code)
	}
	if text := log.String(); !strings.Contains(text, "Define a listener in "+path) || strings.Contains(text, "-c FILE") {
		t.Errorf("the local-only advice should name %s and not ask for -c:\n%s", path, text)
	}
}

func TestBrokerConfigFile(t *testing.T) {
	dir := t.TempDir()
	openAddr, closedAddr := mosquittotest.FreeAddr(t), mosquittotest.FreeAddr(t)
	_, open := splitAddr(t, openAddr)
	_, closed := splitAddr(t, closedAddr)
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	runBroker(t, "-c", write("open.conf", "listener "+open+" 127.0.0.1\nallow_anonymous true\n"))
	if code := connackCode(t, openAddr); code != 0 {
		t.Fatalf("allow_anonymous true: CONNACK %d, want 0", code)
	}
	// A listener without allow_anonymous turns anonymous access off.
	runBroker(t, "-c", write("closed.conf", "listener "+closed+" 127.0.0.1\n"))
	if code := connackCode(t, closedAddr); code != packets.ConnRefusedNotAuthorized {
		t.Fatalf("no allow_anonymous: CONNACK %d, want 5", code)
	}
}

func TestBrokerBadConfigNamesFileAndLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.conf")
	os.WriteFile(path, []byte("listener 1883\nallow_anonymous perhaps\n"), 0o600)
	var out bytes.Buffer
	status := Run(context.Background(), []string{"-c", path}, Stdio{Out: &out, Err: &out})
	if status == 0 || !strings.Contains(out.String(), path+":2: allow_anonymous") {
		t.Fatalf("status %d, output %q: want a failure naming %s:2", status, out.String(), path)
	}
}

// A TLS file that cannot be used is reported at the line of the option that
// names it, once, without the listener line or a package prefix.
func TestBrokerTLSFileErrorNamesItsLine(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.crt")
	notPEM := filepath.Join(dir, "server.key")
	os.WriteFile(notPEM, []byte("not a key\n"), 0o600)
	cases := []struct{ name, conf, want string }{
		{"certfile", "listener 18842 127.0.0.1\n\ncertfile " + missing + "\nkeyfile " + notPEM + "\n",
			":3: certfile " + missing + ": no such file or directory"},
		{"only keyfile", "listener 18842 127.0.0.1\nallow_anonymous true\nkeyfile " + notPEM + "\n",
			":3: a TLS listener needs both certfile and keyfile"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".conf")
			os.WriteFile(path, []byte(tc.conf), 0o600)
			var out bytes.Buffer
			status := Run(context.Background(), []string{"-c", path}, Stdio{Out: &out, Err: &out})
			if text := out.String(); status != 3 || !strings.Contains(text, "Error: "+path+tc.want+"\n") || strings.Contains(text, "listener:") {
				t.Errorf("status %d, output %q: want %q", status, text, path+tc.want)
			}
		})
	}
}

func TestApplyLimits(t *testing.T) {
	zero, one := 0, 1
	var opts broker.Options
	applyLimits(&opts, &config.Config{MaxInflightMessages: &one, MaxQueuedMessages: &zero})
	if opts.MaxInflight != 1 || opts.MaxQueued != broker.Unlimited {
		t.Fatalf("inflight %d queued %d, want 1 and unlimited", opts.MaxInflight, opts.MaxQueued)
	}
	applyLimits(&opts, &config.Config{MaxInflightMessages: &zero})
	if opts.MaxInflight != broker.Unlimited {
		t.Fatalf("max_inflight_messages 0: inflight %d, want unlimited", opts.MaxInflight)
	}
}

// max_topic_alias_broker sets the aliases the broker assigns (0: none);
// listeners that disagree are refused, since midge has one value.
func TestApplyMaxTopicAliasBroker(t *testing.T) {
	for _, n := range []int{0, 3} {
		var opts broker.Options
		cfg := &config.Config{Listeners: []config.Listener{{Port: 1883, MaxTopicAlias: 10, MaxTopicAliasBroker: n}}}
		if err := applyLimits(&opts, cfg); err != nil {
			t.Fatal(err)
		}
		if opts.NoBrokerTopicAliases != (n == 0) || opts.BrokerTopicAliasMaximum != uint16(n) {
			t.Fatalf("max_topic_alias_broker %d: options %d, none %v", n, opts.BrokerTopicAliasMaximum, opts.NoBrokerTopicAliases)
		}
	}
	var opts broker.Options
	cfg := &config.Config{Listeners: []config.Listener{
		{Port: 1883, MaxTopicAlias: 10, MaxTopicAliasBroker: 10},
		{Port: 1884, MaxTopicAlias: 10, MaxTopicAliasBroker: 5, File: "m.conf", Line: 7},
	}}
	if err := applyLimits(&opts, cfg); err == nil || !strings.Contains(err.Error(), "m.conf:7: max_topic_alias_broker 5 differs") {
		t.Fatalf("disagreeing listeners: %v", err)
	}
}

// A listener open to the network with anonymous access and no password
// file is worth a warning; a loopback one, or one with a password file, is
// not.
func TestBrokerWarnsAboutOpenListener(t *testing.T) {
	dir := t.TempDir()
	addr := mosquittotest.FreeAddr(t)
	_, port := splitAddr(t, addr)
	conf := filepath.Join(dir, "open.conf")
	os.WriteFile(conf, []byte("listener "+port+" 0.0.0.0\nallow_anonymous true\n"), 0o600)
	log := runBroker(t, "-c", conf)
	connackCode(t, addr)
	if !strings.Contains(log.String(), "open to the network with allow_anonymous true and no password_file") {
		t.Errorf("no warning for an open listener:\n%s", log)
	}

	addr2 := mosquittotest.FreeAddr(t)
	_, port2 := splitAddr(t, addr2)
	conf2 := filepath.Join(dir, "local.conf")
	os.WriteFile(conf2, []byte("listener "+port2+" 127.0.0.1\nallow_anonymous true\n"), 0o600)
	log2 := runBroker(t, "-c", conf2)
	connackCode(t, addr2)
	if strings.Contains(log2.String(), "open to the network") {
		t.Errorf("a loopback listener was warned about:\n%s", log2)
	}
}

// A configuration's options reach the broker: limits in CONNACK, a Unix
// socket listener, pid_file, log_dest file with connection lines, warnings
// for lines accepted but not acted on, and $SYS at sys_interval.
func TestBrokerAppliesConfig(t *testing.T) {
	dir := t.TempDir()
	addr := mosquittotest.FreeAddr(t)
	_, port := splitAddr(t, addr)
	sock := filepath.Join(dir, "midge.sock")
	pid := filepath.Join(dir, "midge.pid")
	logFile := filepath.Join(dir, "midge.log")
	conf := filepath.Join(dir, "midge.conf")
	os.WriteFile(conf, []byte(strings.Join([]string{
		"persistence true",
		"persistence_location " + dir + "/",
		"autosave_on_changes true",
		"pid_file " + pid,
		"log_dest file " + logFile,
		"log_type all",
		"sys_interval 1",
		"retain_available false",
		"allow_anonymous true",
		"listener " + port + " 127.0.0.1",
		"max_qos 1",
		"listener 0 " + sock,
		"",
	}, "\n")), 0o600)
	runBroker(t, "-c", conf)
	connackCode(t, addr)

	if b, err := os.ReadFile(pid); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("pid_file holds %q (%v), want %d", b, err, os.Getpid())
	}

	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("unix socket listener: %v", err)
	}
	c := brokertest.Wrap(t, nc, packets.V5)
	c.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: true, KeepAlive: 60, ClientID: "u"})
	ack, ok := c.Expect().(*packets.Connack)
	if !ok || ack.ReasonCode != 0 {
		t.Fatalf("CONNACK over the unix socket: %+v", ack)
	}
	if ack.Properties.RetainAvailable != 0 || !ack.Properties.Has(packets.PropRetainAvailable) {
		t.Errorf("retain_available false not announced: %+v", ack.Properties)
	}
	tcp := brokertest.Dial(t, addr, packets.V5)
	tcp.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: true, KeepAlive: 60, ClientID: "t"})
	if ack, ok := tcp.Expect().(*packets.Connack); !ok || ack.Properties.MaximumQoS != 1 || !ack.Properties.Has(packets.PropMaximumQoS) {
		t.Errorf("max_qos 1 on the TCP listener not announced: %+v", ack)
	}
	tcp.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "$SYS/broker/version"}}})
	tcp.Expect() // SUBACK
	if p, ok := tcp.Expect().(*packets.Publish); !ok || !strings.Contains(string(p.Payload), "midge") {
		t.Errorf("$SYS/broker/version: %+v", p)
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(logFile)
		log := string(b)
		if strings.Contains(log, "New client connected from") && strings.Contains(log, "autosave_on_changes:") &&
			strings.Contains(log, "Persistence in "+filepath.Join(dir, "mosquitto.db.midge")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log file lacks the connection line, the autosave_on_changes warning or the store's line:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// per_listener_settings true: each listener has its own allow_anonymous and
// password file.
func TestBrokerPerListenerSettings(t *testing.T) {
	dir := t.TempDir()
	openAddr, closedAddr := mosquittotest.FreeAddr(t), mosquittotest.FreeAddr(t)
	_, open := splitAddr(t, openAddr)
	_, closed := splitAddr(t, closedAddr)
	pw := filepath.Join(dir, "passwd")
	hash, err := auth.Hash(auth.PBKDF2SHA512, []byte("alice"), auth.DefaultIterations)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(pw, []byte("alice:"+hash+"\n"), 0o600)
	conf := filepath.Join(dir, "per.conf")
	os.WriteFile(conf, []byte(strings.Join([]string{
		"per_listener_settings true",
		"listener " + open + " 127.0.0.1",
		"allow_anonymous true",
		"listener " + closed + " 127.0.0.1",
		"password_file " + pw,
		"",
	}, "\n")), 0o600)
	runBroker(t, "-c", conf)
	if code := connackCode(t, openAddr); code != 0 {
		t.Errorf("anonymous on the open listener: CONNACK %d, want 0", code)
	}
	if code := connackCode(t, closedAddr); code != packets.ConnRefusedNotAuthorized {
		t.Errorf("anonymous on the listener with a password file: CONNACK %d, want 5", code)
	}
	c := brokertest.ConnectUser(t, closedAddr, packets.V311, "a", "alice", true)
	c.Net.Close()
}
