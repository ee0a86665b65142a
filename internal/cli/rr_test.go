package cli

import (
	"bytes"
	"context"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
	"github.com/midge-mqtt/midge/packets"
)

// request is what a responder saw of one request.
type request struct {
	payload, responseTopic, correlation string
	user                                []packets.UserProperty
}

// startResponder connects a midge client that answers each request on
// topic with "re: PAYLOAD" on its Response Topic, echoing its Correlation
// Data unless echo is false. With decoy it first answers with other
// correlation data, as a reply to someone else would look. Requests go to
// the returned channel.
func startResponder(t *testing.T, host, port, topic string, echo, decoy bool) <-chan request {
	t.Helper()
	requests := make(chan request, 10)
	answers := make(chan *packets.Publish, 10)
	onMessage := func(m *packets.Publish) {
		requests <- request{payload: string(m.Payload), responseTopic: m.Properties.ResponseTopic,
			correlation: string(m.Properties.CorrelationData), user: slices.Clone(m.Properties.User)}
		if m.Properties.ResponseTopic == "" {
			return
		}
		if decoy {
			answers <- &packets.Publish{Topic: m.Properties.ResponseTopic, QoS: 1, Payload: []byte("decoy"),
				Properties: packets.Properties{CorrelationData: []byte("someone else")}}
		}
		answer := &packets.Publish{Topic: m.Properties.ResponseTopic, QoS: 1, Payload: append([]byte("re: "), m.Payload...)}
		if echo {
			answer.Properties.CorrelationData = bytes.Clone(m.Properties.CorrelationData)
		}
		answers <- answer
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := client.Dial(ctx, client.Options{Addr: net.JoinHostPort(host, port), Version: packets.V5, CleanStart: true, OnMessage: onMessage})
	if err != nil {
		t.Fatal(err)
	}
	// OnMessage must not wait for acknowledgements: answer from here.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case a := <-answers:
				c.Publish(ctx, a)
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		c.Close()
	})
	if _, err := c.Subscribe(ctx, packets.Subscription{Filter: topic, QoS: 1}); err != nil {
		t.Fatal(err)
	}
	return requests
}

// TestRR sends requests with midge rr and mosquitto_rr to a midge
// responder, through both brokers, and compares what they print.
func TestRR(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		requests := startResponder(t, host, port, "rr/req", true, false)
		args := []string{"-h", host, "-p", port, "-t", "rr/req", "-e", "rr/resp", "-m", "hello", "-q", "1", "-W", "5", "-v"}
		got := run(t, RR, "", append(args, "-D", "publish", "user-property", "who", "midge")...)
		if got.status != 0 || got.stdout != "rr/resp re: hello\n" || got.stderr != "" {
			t.Errorf("midge rr: %+v", got)
		}
		req := <-requests
		if req.payload != "hello" || req.responseTopic != "rr/resp" || len(req.correlation) != 16 ||
			!slices.Equal(req.user, []packets.UserProperty{{Key: "who", Value: "midge"}}) {
			t.Errorf("midge rr's request: %+v", req)
		}
		want := runMosquittoTool(t, "mosquitto_rr", "", args...)
		<-requests
		if got.status != want.status || got.stdout != want.stdout {
			t.Errorf("midge rr %+v; mosquitto_rr %+v", got, want)
		}

		// -F shows the correlation data that came back; -D gives it.
		got = run(t, RR, "", "-h", host, "-p", port, "-t", "rr/req", "-e", "rr/resp", "-m", "x", "-W", "5",
			"-D", "publish", "correlation-data", "mine", "-F", "%t|%p|%D")
		if got.status != 0 || got.stdout != "rr/resp|re: x|mine\n" {
			t.Errorf("midge rr -F: %+v", got)
		}
		<-requests
	})
}

// TestRRSkipsOtherAnswers: a response with other correlation data answers
// someone else and is skipped; one without any is taken.
func TestRRSkipsOtherAnswers(t *testing.T) {
	host, port := splitAddr(t, mosquittotest.Start(t, ""))
	startResponder(t, host, port, "decoy/req", true, true)
	got := run(t, RR, "", "-h", host, "-p", port, "-t", "decoy/req", "-e", "decoy/resp", "-m", "m", "-W", "5", "-F", "%p %D")
	if got.status != 0 || got.stdout != "re: m "+lastCorrelation(t, got)+"\n" || strings.Contains(got.stdout, "decoy") {
		t.Errorf("with a decoy: %+v", got)
	}
	startResponder(t, host, port, "plain/req", false, false)
	got = run(t, RR, "", "-h", host, "-p", port, "-t", "plain/req", "-e", "plain/resp", "-m", "m", "-W", "5")
	if got.status != 0 || got.stdout != "re: m\n" {
		t.Errorf("answer without correlation data: %+v", got)
	}
}

// lastCorrelation is the correlation data midge rr printed after "re: m ".
func lastCorrelation(t *testing.T, r result) string {
	t.Helper()
	_, after, _ := strings.Cut(strings.TrimSuffix(r.stdout, "\n"), "re: m ")
	if len(after) != 16 {
		t.Errorf("correlation data %q", after)
	}
	return after
}

// TestInteropRROutcomes: no answer within -W, and a refused connection,
// end midge rr as they end mosquitto_rr.
func TestInteropRROutcomes(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		args := []string{"-h", host, "-p", port, "-t", "nobody/home", "-e", "rr/silence", "-m", "x", "-W", "1"}
		want := runMosquittoTool(t, "mosquitto_rr", "", args...)
		got := run(t, RR, "", args...)
		if got.status != want.status || got.stderr != want.stderr || got.stdout != want.stdout {
			t.Errorf("-W 1: midge rr %+v; mosquitto_rr %+v", got, want)
		}
		host, port = b.refusing(t)
		args = []string{"-h", host, "-p", port, "-t", "a", "-e", "b", "-m", "x"}
		want = runMosquittoTool(t, "mosquitto_rr", "", args...)
		got = run(t, RR, "", args...)
		if got.status != want.status || got.stderr != want.stderr {
			t.Errorf("refused: midge rr %+v; mosquitto_rr %+v", got, want)
		}
	})
}
