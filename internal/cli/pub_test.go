package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// TestInteropMidgePubV5ToMosquittoSub: the properties midge pub -D sets
// reach mosquitto_sub -V 5 intact, through both brokers; -D alone implies
// MQTT 5.
func TestInteropMidgePubV5ToMosquittoSub(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		format := "%t|%p|%q|%P|%C|%D|%F|%R|%E"
		sub := startMosquittoSub(t, host, port, "-V", "5", "-t", "v5/out", "-q", "1", "-C", "2", "-F", format)
		pub(t, host, port, "", append([]string{"-t", "v5/out", "-m", "payload"}, v5PublishArgs...)...)
		pub(t, host, port, "", "-t", "v5/out", "-m", "implied", "-D", "publish", "content-type", "x/y")
		r := sub.wait(t)
		want := regexp.MustCompile(`^v5/out\|payload\|1\|k1:v1 k2:v 2\|text/plain\|corr-1\|1\|reply/to\|(3600|359\d)\n` +
			`v5/out\|implied\|0\|\|x/y\|\|\|\|\n$`)
		if r.status != 0 || !want.MatchString(messages(r.stdout)) {
			t.Errorf("mosquitto_sub: status %d, %q", r.status, messages(r.stdout))
		}
	})
}

// TestPubTopicAlias: with -D publish topic-alias, midge pub sends the
// topic with the alias once and the alias alone after, as mosquitto_pub
// does; the broker maps them back.
func TestPubTopicAlias(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		sub := startSub(t, host, port, "-V", "5", "-t", "alias/#", "-C", "3", "-v")
		r := pub(t, host, port, "one\ntwo\nthree\n", "-t", "alias/long/topic", "-l", "-q", "1", "-d",
			"-D", "publish", "topic-alias", "1")
		trace := r.stdout
		if !strings.Contains(trace, "'alias/long/topic', ... (3 bytes)") || strings.Count(trace, "'', ... (") != 2 {
			t.Errorf("midge pub trace:\n%s", trace)
		}
		if r := sub.wait(t); messages(r.stdout) != "alias/long/topic one\nalias/long/topic two\nalias/long/topic three\n" {
			t.Errorf("midge sub: %q", messages(r.stdout))
		}
	})
}

// TestPubV5Refusals: an alias above the broker's Topic Alias Maximum is
// refused by the client before it is sent.
func TestPubV5Refusals(t *testing.T) {
	host, port := splitAddr(t, mosquittotest.Start(t, "max_topic_alias 2"))
	r := run(t, Pub, "", "-h", host, "-p", port, "-t", "a", "-m", "x", "-D", "publish", "topic-alias", "5")
	if r.status != 1 || !strings.Contains(r.stderr, "topic alias 5 outside 1..2") {
		t.Errorf("alias 5 of 2: status %d, stderr %q", r.status, r.stderr)
	}
}

// TestScram runs midge pub and sub with --scram against a broker with
// a password file: the right password is accepted, a wrong one refused
// with MQTT 5's Bad User Name or Password.
func TestScram(t *testing.T) {
	dir := t.TempDir()
	passwords := filepath.Join(dir, "passwd")
	mustPasswd(t, "", "-c", "-b", passwords, "alice", "s3cret")
	host, port := splitAddr(t, scramBroker(t, passwords).Addr)
	sub := startSub(t, host, port, "--scram", "-u", "alice", "-P", "s3cret", "-t", "scram", "-C", "1")
	pub(t, host, port, "", "--scram", "-u", "alice", "-P", "s3cret", "-t", "scram", "-m", "proved", "-d")
	if r := sub.wait(t); messages(r.stdout) != "proved\n" {
		t.Errorf("midge sub --scram: %q", messages(r.stdout))
	}
	r := run(t, Pub, "", "-h", host, "-p", port, "--scram", "-u", "alice", "-P", "wrong", "-t", "scram", "-m", "x")
	if r.status != 0x87 || r.stderr != "Connection error: Not authorized\nError: The connection was refused.\n" {
		t.Errorf("wrong password: status %d, stderr %q", r.status, r.stderr)
	}
}
