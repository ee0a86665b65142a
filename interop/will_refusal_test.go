package interop

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// Debian's mosquitto_sub giving a will to $SYS/broker/version, or to a
// $share/ name, is refused at CONNECT (MQTT 5 0x87, MQTT 3.1.1 return code
// 5) with the reason in midge's log, and a subscriber to the topic never
// sees the forged payload; the will of a mosquitto_sub that is killed
// still reaches it.
func TestForgedWillRefusedMosquittoClients(t *testing.T) {
	b := startSecureBroker(t, t.TempDir(), "listener {port} 127.0.0.1\nallow_anonymous true\n")
	watcher, _ := startSub(t, "-h", "127.0.0.1", "-p", b.port, "-v", "-t", "$SYS/broker/version", "-t", "wills/#")
	waitSubscribed(t, watcher, func(payload string) {
		tool(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", b.port, "-t", "wills/probe", "-m", payload)
	})

	// A forger that stays connected is killed after two seconds, without
	// DISCONNECT: a will accepted would then go out.
	for _, tc := range []struct{ version, topic, refusal string }{
		{"mqttv311", "$SYS/broker/version", "not authorised"},
		{"mqttv5", "$SYS/broker/version", "Not authorized"},
		{"mqttv5", "$share/g/wills/x", "Not authorized"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		out, err := exec.CommandContext(ctx, mosquittotest.NeedBinary(t, "mosquitto_sub"), "-h", "127.0.0.1", "-p", b.port,
			"-V", tc.version, "-i", "forger", "-t", "nothing",
			"--will-topic", tc.topic, "--will-payload", "forged", "--will-retain").CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), tc.refusal) {
			t.Errorf("%s will to %s: mosquitto_sub err=%v output %q, want refused (%s)", tc.version, tc.topic, err, out, tc.refusal)
		}
	}
	// A will elsewhere still goes out: mosquitto_sub is killed, without
	// DISCONNECT.
	dying := exec.Command(mosquittotest.NeedBinary(t, "mosquitto_sub"), "-h", "127.0.0.1", "-p", b.port, "-i", "dying",
		"-t", "nothing", "--will-topic", "wills/dying", "--will-payload", "gone")
	if err := dying.Start(); err != nil {
		t.Fatal(err)
	}
	mosquittotest.WaitFor(t, 5*time.Second, "mosquitto_sub with a will connected", func() bool {
		return strings.Contains(b.log.String(), "as dying")
	})
	dying.Process.Kill()
	dying.Wait()
	mosquittotest.WaitFor(t, 5*time.Second, "the honest will delivered", func() bool {
		return strings.Contains(watcher.String(), "wills/dying gone")
	})
	if strings.Contains(watcher.String(), "forged") {
		t.Fatalf("the subscriber saw a forged will:\n%s", watcher)
	}

	// Nor was it retained.
	out, err := tool(t, "mosquitto_sub", "-h", "127.0.0.1", "-p", b.port, "-v", "-t", "$SYS/broker/version", "-C", "1", "-W", "5")
	if err != nil || strings.Contains(out, "forged") || !strings.Contains(out, "$SYS/broker/version") {
		t.Fatalf("retained $SYS/broker/version: err=%v %q, want the broker's own", err, out)
	}
	mosquittotest.WaitFor(t, 5*time.Second, "the refusal logged with its reason", func() bool {
		return strings.Contains(b.log.String(), "will to '$SYS/broker/version' not authorised: only the broker publishes to $SYS")
	})
}
