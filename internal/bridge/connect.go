package bridge

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/packets"
)

// connectTimeout bounds a connection attempt to either side.
const connectTimeout = 30 * time.Second

// neverExpires is the MQTT 5 session expiry of a session kept until a
// clean start.
const neverExpires = 0xFFFFFFFF

// dialLocal connects the local client through a pipe the broker serves as
// one of its own connections (admitted without a password; access control
// applies to LocalUsername), and subscribes it to what goes out. Its
// session is kept, without LocalCleanSession, while the bridge is away.
func (b *Bridge) dialLocal(from *side) (*client.Client, error) {
	o := client.Options{
		Addr: "bridge " + b.o.Name, ClientID: b.o.LocalClientID, CleanStart: b.o.LocalCleanSession,
		Version: packets.V5, DeferAck: true, ConnectTimeout: connectTimeout,
		OnMessage: func(p *packets.Publish) { b.out.receive(from, p) },
		Dialer: func(context.Context, string, string) (net.Conn, error) {
			mine, theirs := net.Pipe()
			go b.srv.ServeConnWith(theirs, broker.ListenerOptions{Internal: true})
			return mine, nil
		},
	}
	if !b.o.LocalCleanSession {
		o.Properties.SessionExpiry = neverExpires
		o.Properties.Set(packets.PropSessionExpiry)
	}
	if u := b.o.LocalUsername; u != nil {
		o.Username, o.UsernameSet = *u, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	local, err := client.Dial(ctx, o)
	if err != nil {
		return nil, err
	}
	var subs []packets.Subscription
	for _, t := range b.o.Topics {
		if t.Outgoing() {
			// No Local: what the bridge brings in does not go back out.
			// Retained messages are sent for a new subscription only, not
			// again each time the bridge's session resumes.
			subs = append(subs, packets.Subscription{Filter: t.LocalFilter(), QoS: t.QoS,
				NoLocal: true, RetainAsPublished: true, RetainHandling: 1})
		}
	}
	if len(subs) > 0 {
		if _, err := local.Subscribe(ctx, subs...); err != nil {
			local.Close()
			return nil, fmt.Errorf("subscribing: %w", err)
		}
	}
	return local, nil
}

// dialRemote connects to the remote at addr and subscribes to what comes
// in; via is the connection as a source of messages.
func (b *Bridge) dialRemote(addr string) (*client.Client, *side, error) {
	via := newSide()
	o := client.Options{
		Addr: addr, ClientID: b.o.RemoteClientID, CleanStart: b.o.CleanSession, KeepAlive: b.o.KeepAlive,
		Version: b.o.Version, Bridge: b.o.TryPrivate, DeferAck: true, ConnectTimeout: connectTimeout,
		OnMessage: func(p *packets.Publish) { b.in.receive(via, p) },
		Dialer:    b.o.Dialer,
	}
	if b.o.Version == packets.V5 {
		expiry := b.o.SessionExpiry
		if expiry == 0 && !b.o.CleanSession {
			expiry = neverExpires
		}
		if expiry != 0 {
			o.Properties.SessionExpiry = expiry
			o.Properties.Set(packets.PropSessionExpiry)
		}
		if b.o.ReceiveMaximum != 0 {
			o.Properties.ReceiveMaximum = b.o.ReceiveMaximum
			o.Properties.Set(packets.PropReceiveMaximum)
		}
		if b.o.MaxPacketSize != 0 {
			o.Properties.MaximumPacketSize = b.o.MaxPacketSize
			o.Properties.Set(packets.PropMaximumPacketSize)
		}
	}
	if u := b.o.RemoteUsername; u != nil {
		o.Username, o.UsernameSet = *u, true
	}
	if pw := b.o.RemotePassword; pw != nil {
		o.Password, o.PasswordSet = []byte(*pw), true
	}
	if b.o.Notifications && !b.o.NotificationsLocalOnly {
		o.Will = &packets.Will{Topic: b.o.NotificationTopic, Payload: []byte("0"), QoS: 1, Retain: true}
	}
	b.logf("Connecting bridge %s (%s)", b.o.Name, addr)
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	go func() {
		select {
		case <-b.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	remote, err := client.Dial(ctx, o)
	via.set(remote)
	if err != nil {
		return nil, nil, err
	}
	if err := b.subscribeRemote(ctx, remote); err != nil {
		remote.Close()
		return nil, nil, err
	}
	return remote, via, nil
}

// subscribeRemote subscribes to the topics that come in and, with
// AttemptUnsubscribe, unsubscribes those that only go out.
func (b *Bridge) subscribeRemote(ctx context.Context, remote *client.Client) error {
	var subs []packets.Subscription
	var outOnly []string
	for _, t := range b.o.Topics {
		if t.Incoming() {
			// No Local at MQTT 5 (TryPrivate does it before).
			subs = append(subs, packets.Subscription{Filter: t.RemoteFilter(), QoS: t.QoS,
				NoLocal: b.o.Version == packets.V5, RetainAsPublished: true})
		} else if b.o.AttemptUnsubscribe {
			outOnly = append(outOnly, t.RemoteFilter())
		}
	}
	if len(outOnly) > 0 {
		if err := remote.Unsubscribe(ctx, outOnly...); err != nil {
			return fmt.Errorf("unsubscribing on the remote: %w", err)
		}
	}
	if len(subs) > 0 {
		codes, err := remote.Subscribe(ctx, subs...)
		if err != nil {
			return fmt.Errorf("subscribing on the remote: %w", err)
		}
		for i, code := range codes {
			if code.IsError() {
				b.logf("Bridge %s: the remote refused the subscription to %s (%s).", b.o.Name, subs[i].Filter, code)
			}
		}
	}
	return nil
}

// notification is the bridge's state message.
func (b *Bridge) notification(state string) *packets.Publish {
	return &packets.Publish{Topic: b.o.NotificationTopic, QoS: 1, Retain: true, Payload: []byte(state)}
}

// notify publishes the bridge's state locally and, unless local only, on
// the remote.
func (b *Bridge) notify(ctx context.Context, local, remote *client.Client, state string) {
	if !b.o.Notifications {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	local.Publish(ctx, b.notification(state))
	if !b.o.NotificationsLocalOnly {
		remote.Publish(ctx, b.notification(state))
	}
}

// toRemote is the message a local one becomes on the remote; nil when no
// topic of the bridge sends it out.
func (b *Bridge) toRemote(m *packets.Publish) *packets.Publish {
	for _, t := range b.o.Topics {
		if !t.Outgoing() {
			continue
		}
		if name, ok := t.ToRemote(m.Topic); ok {
			return &packets.Publish{Topic: name, QoS: min(m.QoS, t.QoS), Retain: m.Retain && b.o.OutgoingRetain,
				Payload: m.Payload, Properties: m.Properties}
		}
	}
	return nil
}

// toLocal is the message a remote one becomes locally; nil when no topic
// of the bridge brings it in.
func (b *Bridge) toLocal(m *packets.Publish) *packets.Publish {
	for _, t := range b.o.Topics {
		if !t.Incoming() {
			continue
		}
		if name, ok := t.ToLocal(m.Topic); ok {
			return &packets.Publish{Topic: name, QoS: min(m.QoS, t.QoS), Retain: m.Retain,
				Payload: m.Payload, Properties: m.Properties}
		}
	}
	return nil
}
