package interop

import (
	"strings"
	"testing"
)

// With an acl_file, a SUBSCRIBE to a filter that can match no topic the
// user may read is refused in its SUBACK, as Mosquitto's dynamic-security
// plugin refuses it: 0x80 (128) at 3.1.1, 0x87 (135) at MQTT 5; and
// mosquitto_sub, every filter refused, says so and leaves. A filter that
// can match a readable topic, through a %u pattern or past a deny rule, is
// granted.
func TestACLRefusesUnreadableSubscriptions(t *testing.T) {
	dir := t.TempDir()
	writeACLFiles(t, dir)
	b := startSecureBroker(t, dir, "listener {port} 127.0.0.1\nallow_anonymous true\npassword_file {dir}/passwd\nacl_file {dir}/acl\n")
	sub := func(args ...string) string {
		t.Helper()
		args = append([]string{"-h", "127.0.0.1", "-p", b.port, "-u", "alice", "-P", "alicepw", "-d", "-W", "2"}, args...)
		out, _ := tool(t, "mosquitto_sub", args...)
		return out
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"3.1.1", []string{"-t", "bob/#", "-t", "public/private"}, "Subscribed (mid: 1): 128, 128"},
		{"5.0", []string{"-V", "5", "-t", "bob/#", "-t", "public/private"}, "Subscribed (mid: 1): 135, 135"},
		{"shared", []string{"-V", "5", "-t", "$share/g/bob/#"}, "Subscribed (mid: 1): 135"},
	} {
		out := sub(c.args...)
		if !strings.Contains(out, c.want) || !strings.Contains(out, "All subscription requests were denied.") {
			t.Errorf("%s: mosquitto_sub said:\n%s\nwant %q and every request denied", c.name, out, c.want)
		}
	}
	// Readable through public/# past the deny rule, through %u, and through
	// alice/# under '#'.
	out := sub("-t", "bob/#", "-t", "public/+", "-t", "users/+/note", "-t", "#")
	if !strings.Contains(out, "Subscribed (mid: 1): 128, 0, 0, 0") || strings.Contains(out, "denied") {
		t.Errorf("mosquitto_sub said:\n%s\nwant 128, 0, 0, 0", out)
	}
}
