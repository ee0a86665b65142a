package bench

import (
	"net"
	"net/netip"
	"runtime"
	"testing"
)

func TestSourceAddrs(t *testing.T) {
	base := netip.MustParseAddr("127.0.0.2")
	for _, tc := range []struct {
		name string
		c    Config
		want []string
	}{
		{"explicit count", Config{Target: Target{Addr: "192.0.2.1:1883"}, Clients: 5, Sources: 3, SourceBase: base},
			[]string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}},
		{"crosses an octet", Config{Clients: 5, Sources: 2, SourceBase: netip.MustParseAddr("127.0.0.255")},
			[]string{"127.0.0.255", "127.0.1.0"}},
		{"not loopback, none by default", Config{Target: Target{Addr: "192.0.2.1:1883"}, Clients: 30000, PerSource: 10000, SourceBase: base},
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sourceAddrs(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i].String() != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestSourceAddrsByDefaultOnLoopback(t *testing.T) {
	c := Config{Target: Target{Addr: "127.0.0.1:1883"}, Clients: 19000, PerSource: 10000, SourceBase: netip.MustParseAddr("127.0.0.2")}
	got, err := sourceAddrs(c)
	if err != nil {
		t.Fatal(err)
	}
	want := 2
	if runtime.GOOS != "linux" {
		want = 0
	}
	if len(got) != want {
		t.Fatalf("19,000 clients at 10,000 per address: %v, want %d addresses", got, want)
	}
}

func TestSourceAddrsStayInLoopback(t *testing.T) {
	c := Config{Clients: 1, Sources: 3, SourceBase: netip.MustParseAddr("127.255.255.254")}
	if got, err := sourceAddrs(c); err == nil {
		t.Fatalf("got %v, want an error for leaving 127.0.0.0/8", got)
	}
}

func TestSourceForTakesAddressesInTurn(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}
	counts := map[string]int{}
	for i := range 19000 {
		a := sourceFor(addrs, i).(*net.TCPAddr)
		if a.Port != 0 {
			t.Fatalf("client %d bound to port %d; the system should choose", i, a.Port)
		}
		counts[a.IP.String()]++
	}
	if counts["127.0.0.2"] != 9500 || counts["127.0.0.3"] != 9500 {
		t.Fatalf("spread = %v, want 9,500 each", counts)
	}
	if sourceFor(nil, 7) != nil {
		t.Fatal("no addresses should mean no binding")
	}
}

func TestParentFilter(t *testing.T) {
	for pattern, want := range map[string]string{
		"bench/retained/%i": "bench/retained/#",
		"a/%i/b":            "a/+/b",
		"x%i":               "#",
		"plain/topic":       "plain/topic",
	} {
		if got := parentFilter(pattern); got != want {
			t.Errorf("parentFilter(%q) = %q, want %q", pattern, got, want)
		}
	}
}
