package brokercmd

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/midge-mqtt/midge/internal/config"
)

// interfaceAddrs plans a listener with bind_interface: one socket on each
// address the interface has now, IPv4 and IPv6 unless socket_domain names
// one family (an IPv6 link-local address with the interface as its zone).
// Mosquitto binds its socket to the device instead (SO_BINDTODEVICE, Linux
// only); an address the interface gains later is not listened on until
// midge restarts. An address on the listener line narrows the choice to
// the interface's addresses among those it names. An interface that is
// missing, or has no address to listen on, is an error naming the
// listener's file and line.
func interfaceAddrs(l *config.Listener) ([]listenAddr, error) {
	fail := func(format string, args ...any) ([]listenAddr, error) {
		return nil, fmt.Errorf("%s:%d: listener %d: bind_interface %s: %s", l.File, l.Line, l.Port, l.BindInterface, fmt.Sprintf(format, args...))
	}
	ifi, err := net.InterfaceByName(l.BindInterface)
	if err != nil {
		return fail("no such network interface (%v)", err)
	}
	have, err := ifi.Addrs()
	if err != nil {
		return fail("reading its addresses: %v", err)
	}
	named, domain, err := listenerIPs(l.Address, l.SocketDomain)
	if err != nil {
		return fail("%v", err)
	}
	port := strconv.Itoa(l.Port)
	var v4, v6 []listenAddr
	for _, a := range have {
		ipnet, ok := a.(*net.IPNet)
		if !ok || named != nil && !slices.ContainsFunc(named, ipnet.IP.Equal) {
			continue
		}
		ip := ipnet.IP
		switch {
		case ip.To4() != nil && domain != "ipv6":
			v4 = append(v4, listenAddr{network: "tcp4", address: net.JoinHostPort(ip.String(), port), cfg: l})
		case ip.To4() == nil && domain != "ipv4":
			host := ip.String()
			if ip.IsLinkLocalUnicast() {
				host += "%" + ifi.Name
			}
			v6 = append(v6, listenAddr{network: "tcp6", address: net.JoinHostPort(host, port), cfg: l})
		}
	}
	if len(v4)+len(v6) == 0 {
		what := "address"
		if l.Address != "" {
			what = "address matching " + l.Address
		} else if domain != "" {
			what = map[string]string{"ipv4": "IPv4", "ipv6": "IPv6"}[domain] + " address"
		}
		return fail("the interface has no %s to listen on", what)
	}
	if len(v4) > 0 && domain == "" {
		// Beside IPv4, an IPv6 address that cannot be bound (still
		// tentative at boot, say) only warns, as `::` does without
		// bind_interface.
		for i := range v6 {
			v6[i].optional = true
		}
	}
	return append(v4, v6...), nil
}

// listenerIPs returns the addresses a listener line names (nil for any:
// none, 0.0.0.0 or ::) and the one family to listen on, if any: the
// socket_domain, or the family of 0.0.0.0 or ::. A host name is resolved.
func listenerIPs(address, domain string) ([]net.IP, string, error) {
	if address == "" {
		return nil, domain, nil
	}
	ip := net.ParseIP(address)
	switch {
	case ip == nil:
		ips, err := net.DefaultResolver.LookupIP(context.Background(), "ip", address)
		if err != nil {
			return nil, "", fmt.Errorf("listener address %s: %v", address, err)
		}
		return ips, domain, nil
	case !ip.IsUnspecified():
		return []net.IP{ip}, domain, nil
	}
	family := "ipv6"
	if ip.To4() != nil {
		family = "ipv4"
	}
	if domain != "" && domain != family {
		return nil, "", fmt.Errorf("listener address %s is not of socket_domain %s", address, domain)
	}
	return nil, family, nil
}
