package brokercmd

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/midge-mqtt/midge/internal/bridge"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/packets"
)

// bridgeOptions turns a `connection` section into the bridge's options,
// with Mosquitto's defaults for what the section leaves out. Errors name
// the file and line of the option at fault.
func bridgeOptions(c *config.Bridge, log *slog.Logger) (bridge.Options, error) {
	at := func(option string, err error) error {
		file, line := c.At(option)
		return fmt.Errorf("%s:%d: bridge %s: %w", file, line, c.Name, err)
	}
	if len(c.Addresses) == 0 {
		return bridge.Options{}, at("connection", errors.New("invalid bridge configuration: no address (accepted: `address host[:port]` in the section)"))
	}
	if len(c.Topics) == 0 {
		return bridge.Options{}, at("connection", errors.New("invalid bridge configuration: no topic line (accepted: `topic PATTERN [[[out|in|both] QOS] LOCAL-PREFIX REMOTE-PREFIX]`)"))
	}
	o := bridge.Options{
		Name:                   c.Name,
		Addresses:              c.Addresses,
		RoundRobin:             c.RoundRobin,
		Version:                packets.V311,
		RemoteClientID:         c.RemoteClientID,
		LocalClientID:          c.LocalClientID,
		RemoteUsername:         c.RemoteUsername,
		RemotePassword:         c.RemotePassword,
		LocalUsername:          c.LocalUsername,
		CleanSession:           boolOr(c.CleanSession, false),
		KeepAlive:              time.Duration(intOr(c.KeepaliveInterval, 60)) * time.Second,
		TryPrivate:             boolOr(c.TryPrivate, true),
		AttemptUnsubscribe:     boolOr(c.AttemptUnsubscribe, true),
		OutgoingRetain:         boolOr(c.OutgoingRetain, true),
		MaxPacketSize:          uint32(intOr(c.MaxPacketSize, 0)),
		ReceiveMaximum:         uint16(intOr(c.ReceiveMaximum, 0)),
		Threshold:              intOr(c.Threshold, 10),
		IdleTimeout:            time.Duration(intOr(c.IdleTimeout, 60)) * time.Second,
		RestartBase:            c.RestartBase,
		RestartCap:             c.RestartCap,
		Notifications:          boolOr(c.Notifications, true),
		NotificationsLocalOnly: boolOr(c.NotificationsLocalOnly, false),
		NotificationTopic:      c.NotificationTopic,
		DrainRate:              intOr(c.DrainRate, 0),
		Logger:                 log,
	}
	if c.SessionExpiryInterval != nil {
		o.SessionExpiry = uint32(*c.SessionExpiryInterval)
	}
	o.LocalCleanSession = boolOr(c.LocalCleanSession, o.CleanSession)
	switch c.ProtocolVersion {
	case "mqttv31":
		o.Version = packets.V31
	case "mqttv50":
		o.Version = packets.V5
	}
	switch c.StartType {
	case "lazy":
		o.Start = bridge.Lazy
	case "once":
		o.Start = bridge.Once
	}
	if o.RestartBase == 0 {
		o.RestartBase, o.RestartCap = 5*time.Second, 30*time.Second
	}
	if o.RemoteClientID == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "midge"
		}
		o.RemoteClientID = host + "." + c.Name
	}
	if o.LocalClientID == "" {
		o.LocalClientID = "local." + o.RemoteClientID
	}
	if o.NotificationTopic == "" {
		o.NotificationTopic = "$SYS/broker/connection/" + o.RemoteClientID + "/state"
	}
	for _, line := range c.Topics {
		t, err := bridge.ParseTopic(line.Args)
		if err != nil {
			return bridge.Options{}, fmt.Errorf("%s:%d: bridge %s: topic: %w", line.File, line.Line, c.Name, err)
		}
		o.Topics = append(o.Topics, t)
	}
	dial, err := bridgeDialer(c, log)
	if err != nil {
		return bridge.Options{}, err
	}
	o.Dialer = dial
	return o, nil
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// sysName is a bridge's name as one level of a $SYS topic: '/', '+' and
// '#' would split it or make it a wildcard, so they become '_'.
func sysName(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '/', '+', '#':
			return '_'
		}
		return r
	}, name)
}
