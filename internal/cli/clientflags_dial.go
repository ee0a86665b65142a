package cli

// How the client tools reach a broker besides plain TCP: -L's URL,
// --unix, -A and --proxy.

import (
	"context"
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/proxy"
)

// applyURL takes the host, port, user name, password and topic from -L's
// URL, mqtt://[username[:password]@]host[:port]/topic (mqtts:// for TLS,
// port 8883), as mosquitto_pub does.
func (cf *clientFlags) applyURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "mqtt" && u.Scheme != "mqtts") {
		return usagef("Unsupported URL scheme or malformed URL %q: use mqtt://[username[:password]@]host[:port]/topic or mqtts://.", raw)
	}
	cf.host = optString{value: u.Hostname(), set: true}
	port := u.Port()
	if port == "" {
		port = "1883"
		if u.Scheme == "mqtts" {
			port = "8883"
		}
	}
	cf.port = optString{value: port, set: true}
	if u.User != nil {
		cf.username = optString{value: u.User.Username(), set: true}
		if pw, ok := u.User.Password(); ok {
			cf.password = optString{value: pw, set: true}
		}
	}
	if t := strings.TrimPrefix(u.Path, "/"); t != "" {
		cf.topics = append(cf.topics, t)
	}
	return nil
}

// parseProxy reads --proxy socks5h://[username[:password]@]host[:port], the
// only form mosquitto_pub takes; the port defaults to 1080.
func parseProxy(raw string) (addr string, auth *proxy.Auth, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "socks5h" || u.Hostname() == "" {
		return "", nil, usagef("Invalid proxy URL %q: use socks5h://[username[:password]@]host[:port].", raw)
	}
	port := u.Port()
	if port == "" {
		port = "1080"
	}
	if u.User != nil {
		auth = &proxy.Auth{User: u.User.Username()}
		auth.Password, _ = u.User.Password()
	}
	return net.JoinHostPort(u.Hostname(), port), auth, nil
}

// dialer returns how to reach the broker when it is not plain TCP from any
// local address: a Unix socket (--unix), a local address (-A), a SOCKS5
// proxy (--proxy). Nil for plain TCP.
func (cf *clientFlags) dialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	if !cf.unixPath.set && !cf.bindAddress.set && !cf.proxy.set {
		return nil
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		if cf.unixPath.set {
			return d.DialContext(ctx, "unix", cf.unixPath.value)
		}
		if cf.bindAddress.set {
			ips, err := net.DefaultResolver.LookupIPAddr(ctx, cf.bindAddress.value)
			if err != nil {
				return nil, err
			}
			d.LocalAddr = &net.TCPAddr{IP: ips[0].IP}
		}
		if cf.proxy.set {
			proxyAddr, auth, _ := parseProxy(cf.proxy.value) // validate checked it
			socks, err := proxy.SOCKS5("tcp", proxyAddr, auth, &d)
			if err != nil {
				return nil, err
			}
			return socks.(proxy.ContextDialer).DialContext(ctx, network, addr)
		}
		return d.DialContext(ctx, network, addr)
	}
}
