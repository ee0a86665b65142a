package brokercmd

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
	"github.com/midge-mqtt/midge/packets"
)

// loopbackInterface returns the name of the interface holding 127.0.0.1.
func loopbackInterface(t *testing.T) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Skip(err)
	}
	for _, ifi := range ifs {
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if ipnet, ok := a.(*net.IPNet); ok && ipnet.IP.Equal(net.IPv4(127, 0, 0, 1)) {
				return ifi.Name
			}
		}
	}
	t.Skip("no interface holds 127.0.0.1")
	return ""
}

func writeConf(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "midge.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func planOf(t *testing.T, text string) (listenPlan, error) {
	t.Helper()
	cfg, err := config.Load(writeConf(t, text))
	if err != nil {
		t.Fatal(err)
	}
	return planListeners(cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// bind_interface: the listener listens on the interface's addresses, and
// on nothing else.
func TestBindInterfaceListensOnItsAddresses(t *testing.T) {
	lo := loopbackInterface(t)
	addr := mosquittotest.FreeAddr(t)
	_, port := splitAddr(t, addr)
	log := runBroker(t, "-c", writeConf(t, "listener "+port+"\nbind_interface "+lo+"\nallow_anonymous true\n"))
	if code := connackCode(t, addr); code != 0 {
		t.Fatalf("CONNACK %d, want 0", code)
	}
	if s := log.String(); !strings.Contains(s, "Opening ipv4 listen socket on port "+port+" of 127.0.0.1.") ||
		strings.Contains(s, "listen socket on port "+port+".") {
		t.Fatalf("want a socket on %s and none on a wildcard address; log:\n%s", addr, s)
	}

	plan, err := planOf(t, "listener 1883\nsocket_domain ipv4\nbind_interface "+lo+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.addrs) != 1 || plan.addrs[0].network != "tcp4" || plan.addrs[0].address != "127.0.0.1:1883" {
		t.Fatalf("socket_domain ipv4: plan %+v, want 127.0.0.1:1883 only", plan.addrs)
	}
	plan, err = planOf(t, "listener 1883 127.0.0.1\nbind_interface "+lo+"\n")
	if err != nil || len(plan.addrs) != 1 || plan.addrs[0].address != "127.0.0.1:1883" {
		t.Fatalf("listener address 127.0.0.1: plan %+v, error %v", plan.addrs, err)
	}
}

// An IPv6 link-local address needs the interface as its zone.
func TestBindInterfaceLinkLocalZone(t *testing.T) {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Skip(err)
	}
	for _, ifi := range ifs {
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			ipnet, ok := a.(*net.IPNet)
			if !ok || ipnet.IP.To4() != nil || !ipnet.IP.IsLinkLocalUnicast() {
				continue
			}
			plan, err := planOf(t, "listener 1883\nsocket_domain ipv6\nbind_interface "+ifi.Name+"\n")
			if err != nil {
				t.Fatal(err)
			}
			want := net.JoinHostPort(ipnet.IP.String()+"%"+ifi.Name, "1883")
			for _, la := range plan.addrs {
				if la.address == want && la.network == "tcp6" {
					return
				}
			}
			t.Fatalf("plan %+v, want %s", plan.addrs, want)
		}
	}
	t.Skip("no interface with an IPv6 link-local address")
}

// A missing interface, or one with no address to listen on, stops the
// broker with an error naming the listener's file and line.
func TestBindInterfaceErrorsNameFileAndLine(t *testing.T) {
	lo := loopbackInterface(t)
	for _, tc := range []struct{ text, want string }{
		{"listener 1883\nbind_interface nosuchif0\n", ":1: listener 1883: bind_interface nosuchif0: no such network interface"},
		{"listener 1883 192.0.2.200\nbind_interface " + lo + "\n", ":1: listener 1883: bind_interface " + lo + ": the interface has no address matching 192.0.2.200"},
		{"listener 1883 ::\nsocket_domain ipv4\nbind_interface " + lo + "\n", ":1: listener 1883: bind_interface " + lo + ": listener address :: is not of socket_domain ipv4"},
	} {
		path := writeConf(t, tc.text)
		var out bytes.Buffer
		status := Run(context.Background(), []string{"-c", path}, Stdio{Out: &out, Err: &out})
		if status == 0 || !strings.Contains(out.String(), path+tc.want) {
			t.Errorf("%q: status %d, output %q: want a failure with %q", tc.text, status, out.String(), path+tc.want)
		}
	}
	// An interface without addresses, where the machine has one.
	ifs, _ := net.Interfaces()
	for _, ifi := range ifs {
		if addrs, err := ifi.Addrs(); err == nil && len(addrs) == 0 {
			_, err := planOf(t, "listener 1883\nbind_interface "+ifi.Name+"\n")
			if err == nil || !strings.Contains(err.Error(), ":1: listener 1883: bind_interface "+ifi.Name+": the interface has no address to listen on") {
				t.Errorf("interface %s without addresses: error %v", ifi.Name, err)
			}
			break
		}
	}
}

// mount_point reaches the listener: a mounted client's "t" is "a/t" to a
// client of another listener, and comes back to it as "t".
func TestBrokerMountPoint(t *testing.T) {
	mounted, plain := mosquittotest.FreeAddr(t), mosquittotest.FreeAddr(t)
	_, mport := splitAddr(t, mounted)
	_, pport := splitAddr(t, plain)
	runBroker(t, "-c", writeConf(t, "allow_anonymous true\nlistener "+mport+" 127.0.0.1\nmount_point a/\nlistener "+pport+" 127.0.0.1\n"))
	connackCode(t, mounted)
	sub := brokertest.Connect(t, plain, packets.V311, "sub", true)
	msub := brokertest.Connect(t, mounted, packets.V311, "msub", true)
	for c, filter := range map[*brokertest.Conn]string{sub: "a/#", msub: "t"} {
		c.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: filter}}})
		if _, ok := c.Expect().(*packets.Suback); !ok {
			t.Fatal("no SUBACK")
		}
	}
	pub := brokertest.Connect(t, mounted, packets.V311, "pub", true)
	pub.Send(&packets.Publish{Topic: "t", Payload: []byte("x")})
	for c, want := range map[*brokertest.Conn]string{sub: "a/t", msub: "t"} {
		if p, ok := c.Expect().(*packets.Publish); !ok || p.Topic != want {
			t.Fatalf("got %+v, want a PUBLISH to %q", p, want)
		}
	}
}
