package interop

import (
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// keepAliveSlackEnv names the environment variable that overrides
// defaultKeepAliveSlack with a Go duration ("10s"). Mosquitto 2.0.11 checks
// keepalives coarsely: it closed a silent client with keepalive 1 after 2.8 to
// 6.3 s in our runs, so running against it needs MIDGE_TEST_KEEPALIVE_SLACK=10s.
const keepAliveSlackEnv = "MIDGE_TEST_KEEPALIVE_SLACK"

// defaultKeepAliveSlack is what the keepalive test allows beyond the one and a
// half keepalive periods of [MQTT-3.1.2-24]: timer granularity and a loaded
// CI machine.
const defaultKeepAliveSlack = time.Second

// keepAliveSlack returns MIDGE_TEST_KEEPALIVE_SLACK or defaultKeepAliveSlack.
func keepAliveSlack(t *testing.T) time.Duration {
	t.Helper()
	value := os.Getenv(keepAliveSlackEnv)
	if value == "" {
		return defaultKeepAliveSlack
	}
	slack, err := time.ParseDuration(value)
	if err != nil {
		t.Fatalf("%s=%q: %v", keepAliveSlackEnv, value, err)
	}
	return slack
}

// watchWill connects a client subscribed at QoS 2 to topic.
func watchWill(t *testing.T, addr string, level uint, topic string) *pahoClient {
	t.Helper()
	watcher := connectPaho(t, addr, level, uniqueClientID(), nil)
	watcher.subscribe(t, topic, 2)
	return watcher
}

// TestWillOnAbnormalClose closes a client's socket without DISCONNECT and
// checks that the broker publishes its will [MQTT-3.1.2-8], with the will's
// QoS and RETAIN.
func TestWillOnAbnormalClose(t *testing.T) {
	addr := brokerAddr(t)
	forEachProtocol(t, func(t *testing.T, level uint) {
		t.Run("paho", func(t *testing.T) {
			topic := uniqueTopic(t) + "/will"
			watcher := watchWill(t, addr, level, topic)
			conns := make(chan net.Conn, 1)
			connectPaho(t, addr, level, uniqueClientID(), func(opts *mqtt.ClientOptions) {
				opts.SetWill(topic, "gone", 1, false)
				opts.SetCustomOpenConnectionFn(func(uri *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
					conn, err := net.DialTimeout("tcp", uri.Host, waitTimeout)
					if err == nil {
						conns <- conn
					}
					return conn, err
				})
			})
			select {
			case conn := <-conns:
				conn.Close()
			case <-time.After(waitTimeout):
				t.Fatalf("paho did not open its connection through the custom dialer")
			}
			expectMessage(t, watcher.inbox.next(t, "the will"), topic, "gone", 1, false)
		})
		t.Run("raw", func(t *testing.T) {
			topic := uniqueTopic(t) + "/will"
			watcher := watchWill(t, addr, level, topic)
			c := connectRaw(t, addr, rawConnect{
				level: level, clientID: uniqueClientID(), clean: true, keepAlive: 60,
				willTopic: topic, willPayload: "gone", willQoS: 2,
			})
			c.conn.Close()
			expectMessage(t, watcher.inbox.next(t, "the will"), topic, "gone", 2, false)
		})
		t.Run("retained", func(t *testing.T) {
			topic := uniqueTopic(t) + "/will"
			clearRetained(t, addr, topic)
			watcher := watchWill(t, addr, level, topic)
			c := connectRaw(t, addr, rawConnect{
				level: level, clientID: uniqueClientID(), clean: true, keepAlive: 60,
				willTopic: topic, willPayload: "offline", willQoS: 1, willRetain: true,
			})
			c.conn.Close()
			// The watcher was subscribed already: RETAIN is cleared for it.
			expectMessage(t, watcher.inbox.next(t, "the will"), topic, "offline", 1, false)
			late := connectPaho(t, addr, level, uniqueClientID(), nil)
			late.subscribe(t, topic, 1)
			expectMessage(t, late.inbox.next(t, "the retained will"), topic, "offline", 1, true)
		})
	})
}

// TestNoWillAfterDisconnect sends DISCONNECT and checks that the broker
// discards the will [MQTT-3.1.2-10, MQTT-3.14.4-3]. The client half-closes
// and waits for the broker to close, so the broker has handled the DISCONNECT
// before the watcher publishes the sentinel.
func TestNoWillAfterDisconnect(t *testing.T) {
	addr := brokerAddr(t)
	forEachProtocol(t, func(t *testing.T, level uint) {
		topic := uniqueTopic(t) + "/will"
		watcher := watchWill(t, addr, level, topic)
		c := connectRaw(t, addr, rawConnect{
			level: level, clientID: uniqueClientID(), clean: true, keepAlive: 60,
			willTopic: topic, willPayload: "must not be sent", willQoS: 1,
		})
		c.write(t, []byte{typeDisconn, 0})
		c.closeWrite(t)
		if _, err := c.waitClosed(time.Now().Add(waitTimeout)); err != nil {
			t.Fatalf("after DISCONNECT: %v", err)
		}
		watcher.publish(t, topic, 1, false, "sentinel")
		if before := watcher.inbox.until(t, topic, "sentinel"); len(before) != 0 {
			t.Fatalf("will published after DISCONNECT: %v", describeAll(before))
		}
	})
}

// TestKeepAlive connects raw clients with a keepalive of one second. One goes
// silent: the broker must close it within one and a half keepalive periods
// [MQTT-3.1.2-24] (plus keepAliveSlack) and publish its will. The other sends
// PINGREQ every half second and must stay connected and answered
// [MQTT-3.12.4-1].
func TestKeepAlive(t *testing.T) {
	addr := brokerAddr(t)
	forEachProtocol(t, func(t *testing.T, level uint) {
		t.Run("silent client is closed", func(t *testing.T) {
			topic := uniqueTopic(t) + "/will"
			watcher := watchWill(t, addr, level, topic)
			c := connectRaw(t, addr, rawConnect{
				level: level, clientID: uniqueClientID(), clean: true, keepAlive: 1,
				willTopic: topic, willPayload: "timed out", willQoS: 1,
			})
			limit := 1500*time.Millisecond + keepAliveSlack(t)
			elapsed, err := c.waitClosed(time.Now().Add(limit))
			if err != nil {
				t.Fatalf("silent client with keepalive 1s: %v (limit %v)", err, limit)
			}
			t.Logf("closed %v after CONNACK", elapsed.Round(time.Millisecond))
			if elapsed < 900*time.Millisecond {
				t.Fatalf("closed after %v, before one keepalive period had passed", elapsed)
			}
			expectMessage(t, watcher.inbox.next(t, "the will of the timed-out client"), topic, "timed out", 1, false)
		})
		t.Run("pinging client stays", func(t *testing.T) {
			c := connectRaw(t, addr, rawConnect{
				level: level, clientID: uniqueClientID(), clean: true, keepAlive: 1,
			})
			for range 5 {
				first, body, err := c.readPacket(time.Now().Add(500 * time.Millisecond))
				if err == nil {
					t.Fatalf("unexpected packet 0x%02X % X", first, body)
				}
				if netErr, ok := err.(net.Error); !ok || !netErr.Timeout() {
					t.Fatalf("connection closed although the client pinged: %v", err)
				}
				c.write(t, []byte{typePingreq, 0})
				if body := c.expectPacket(t, typePingresp, "PINGRESP"); len(body) != 0 {
					t.Fatalf("PINGRESP with a body % X", body)
				}
			}
		})
	})
}
