package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ownerConf is a broker with passwords, an ACL and persistence in dir.
const ownerConf = "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {dir}/passwd\nacl_file {dir}/acl\n" +
	"persistence true\npersistence_location {dir}/\n"

// A session restored from the store keeps its owner: alice's persistent
// session, with a message bob sent her queued in it, survives a restart;
// bob connecting with her client identifier through mosquitto_sub is
// refused (MQTT 3.1.1: identifier rejected; MQTT 5: 0x85) and exits
// non-zero; alice then resumes the session and gets the message.
func TestSessionOwnerSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	writeACLFiles(t, dir)
	b := startSecureBroker(t, dir, ownerConf)
	alice := []string{"-h", "127.0.0.1", "-u", "alice", "-P", "alicepw", "-i", "alice-phone", "-c", "-q", "1", "-t", "alice/inbox"}
	if out, err := tool(t, "mosquitto_sub", append([]string{"-p", b.port, "-E"}, alice...)...); err != nil {
		t.Fatalf("mosquitto_sub as alice: %v\n%s", err, out)
	}
	if out, err := tool(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", b.port, "-u", "bob", "-P", "bobpw",
		"-q", "1", "-t", "alice/inbox", "-m", "for alice"); err != nil {
		t.Fatalf("mosquitto_pub as bob: %v\n%s", err, out)
	}
	b.stop()

	b = startSecureBroker(t, dir, ownerConf)
	for _, tc := range []struct{ version, refusal string }{
		{"mqttv311", "identifier rejected"},
		{"mqttv5", "Client Identifier not valid"},
	} {
		out, err := tool(t, "mosquitto_sub", "-h", "127.0.0.1", "-p", b.port, "-V", tc.version,
			"-u", "bob", "-P", "bobpw", "-i", "alice-phone", "-c", "-q", "1", "-t", "alice/inbox", "-C", "1", "-W", "5")
		if err == nil || !strings.Contains(out, tc.refusal) || strings.Contains(out, "for alice") {
			t.Fatalf("mosquitto_sub -V %s as bob on alice's client id: %v\n%s\nwant refused (%q), exit status non-zero",
				tc.version, err, out, tc.refusal)
		}
		t.Logf("bob, %s: %s", tc.version, strings.TrimSpace(out))
	}
	out, err := tool(t, "mosquitto_sub", append([]string{"-p", b.port, "-C", "1", "-W", "10"}, alice...)...)
	if err != nil || strings.TrimSpace(out) != "for alice" {
		t.Fatalf("mosquitto_sub as alice after the restart: %v\n%s\nwant the queued message", err, out)
	}
	if log := b.log.String(); !strings.Contains(log, "belongs to user 'alice'") {
		t.Errorf("the broker's log does not say whose session it is:\n%s", log)
	}
}

// check_retain_source holds across a restart: bob's retained messages are
// kept with his name, and after a restart with an ACL that no longer lets
// him write public/#, mosquitto_sub as alice gets his retained message on
// alice/inbox, which he may still write, and not the one on public/news.
func TestRetainSourceSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	writeACLFiles(t, dir)
	b := startSecureBroker(t, dir, ownerConf)
	for _, name := range []string{"public/news", "alice/inbox"} {
		if out, err := tool(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", b.port, "-u", "bob", "-P", "bobpw",
			"-q", "1", "-r", "-t", name, "-m", "retained by bob"); err != nil {
			t.Fatalf("mosquitto_pub -r as bob: %v\n%s", err, out)
		}
	}
	b.stop()

	acl, err := os.ReadFile(filepath.Join(dir, "acl"))
	if err != nil {
		t.Fatal(err)
	}
	revoked := strings.Replace(string(acl), "topic write public/#\n", "", 1)
	if revoked == string(acl) {
		t.Fatal("writeACLFiles no longer gives bob public/#")
	}
	if err := os.WriteFile(filepath.Join(dir, "acl"), []byte(revoked), 0o644); err != nil {
		t.Fatal(err)
	}
	b = startSecureBroker(t, dir, ownerConf)
	out, _ := tool(t, "mosquitto_sub", "-h", "127.0.0.1", "-p", b.port, "-u", "alice", "-P", "alicepw",
		"-t", "public/#", "-t", "alice/inbox", "-v", "-d", "-C", "2", "-W", "3")
	// -d: without it mosquitto_sub, ended by -W, loses its buffered output.
	if !strings.Contains(out, "\nalice/inbox retained by bob\n") || strings.Contains(out, "public/news") {
		t.Fatalf("mosquitto_sub as alice after the restart printed:\n%s\nwant bob's alice/inbox only", out)
	}
}
