package interop

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/packets"
)

// SCRAM-SHA-512 against `midge broker` with a password file made by
// Debian's mosquitto_passwd: a full exchange with midge's client, a
// re-authentication on the open connection, and a wrong password refused
// with 0x87. The password never crosses the wire.
func TestSCRAMWithPasswordFile(t *testing.T) {
	dir := t.TempDir()
	if out, err := tool(t, "mosquitto_passwd", "-c", "-b", filepath.Join(dir, "passwd"), "alice", "s3cret"); err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}
	b := startSecureBroker(t, dir, "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {dir}/passwd\n")
	dial := func(password string) (*client.Client, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return client.Dial(ctx, client.Options{Addr: b.addr, ClientID: "scram-" + password, CleanStart: true,
			Version: packets.V5, Auth: client.SCRAMSHA512("alice", []byte(password))})
	}
	c, err := dial("s3cret")
	if err != nil {
		t.Fatalf("SCRAM with the right password: %v", err)
	}
	defer c.Close()
	if ack := c.Connack(); ack.Properties.AuthMethod != "SCRAM-SHA-512" {
		t.Fatalf("CONNACK = %+v", ack)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Reauthenticate(ctx); err != nil {
		t.Fatalf("re-authentication: %v", err)
	}
	if err := c.Publish(ctx, &packets.Publish{Topic: "after/reauth", QoS: 1, Payload: []byte("x")}); err != nil {
		t.Fatalf("publish after re-authentication: %v", err)
	}

	_, err = dial("wrong")
	var re *client.ConnectError
	if !errors.As(err, &re) || re.Code != packets.NotAuthorized {
		t.Fatalf("SCRAM with a wrong password: %v, want CONNACK 0x87", err)
	}
}
