package interop

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// paho.golang, allowing two topic aliases, receives messages on three
// topics that the broker sends with aliases it assigns and replaces (least
// recently used first): its router resolves each alias to the right topic,
// so every message reaches the handler of its own topic, in order.
func TestV5PahoReceivesBrokerTopicAliases(t *testing.T) {
	addr := brokerAddr(t)
	type delivery struct {
		route   string
		payload string
		topic   string // as sent: empty when only the alias came
		alias   uint16
	}
	got := make(chan delivery, 100)
	router := paho.NewStandardRouter()
	topics := []string{"alias/a", "alias/b", "alias/c"}
	for _, name := range topics {
		router.RegisterHandler(name, func(p *paho.Publish) {
			d := delivery{route: name, payload: string(p.Payload), topic: p.Topic}
			if p.Properties != nil && p.Properties.TopicAlias != nil {
				d.alias = *p.Properties.TopicAlias
			}
			got <- d
		})
	}
	nc, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	sub := paho.NewClient(paho.ClientConfig{Conn: nc, Router: router})
	two := uint16(2)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := sub.Connect(ctx, &paho.Connect{ClientID: "alias-sub", CleanStart: true, KeepAlive: 30,
		Properties: &paho.ConnectProperties{TopicAliasMaximum: &two}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Disconnect(&paho.Disconnect{}) })
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "alias/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}

	pub := connectV5(t, addr, "alias-pub", nil)
	order := []int{0, 0, 1, 0, 2, 1, 2, 2, 0, 1, 0}
	for i, n := range order {
		pub.publish(t, &paho.Publish{Topic: topics[n], QoS: 1, Payload: []byte(fmt.Sprint(i))})
	}
	aliased := 0
	for i, n := range order {
		select {
		case d := <-got:
			if d.route != topics[n] || d.payload != fmt.Sprint(i) {
				t.Fatalf("message %d: handler of %s got %q, want %s's %d", i, d.route, d.payload, topics[n], i)
			}
			if d.alias > two || d.topic != "" && d.topic != topics[n] {
				t.Fatalf("message %d: sent as topic %q alias %d", i, d.topic, d.alias)
			}
			if d.topic == "" {
				aliased++
			}
		case <-time.After(waitTimeout):
			t.Fatalf("message %d of %d not received", i, len(order))
		}
	}
	if aliased == 0 {
		t.Fatal("no message came with an alias alone")
	}
}
