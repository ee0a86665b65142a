package mosquittotest

import (
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// connackCode sends an anonymous MQTT 3.1.1 CONNECT to addr and returns the
// CONNACK's return code. The bytes are written from the specification so
// that this package needs nothing but the standard library.
func connackCode(t *testing.T, addr string) byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(startTimeout))
	const clientID = "mosquittotest"
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 10} // level 4, clean session, keepalive 10 s
	body = binary.BigEndian.AppendUint16(body, uint16(len(clientID)))
	body = append(body, clientID...)
	if _, err := conn.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
		t.Fatal(err)
	}
	connack := make([]byte, 4)
	if _, err := io.ReadFull(conn, connack); err != nil {
		t.Fatalf("reading CONNACK: %v", err)
	}
	if connack[0] != 0x20 || connack[1] != 2 {
		t.Fatalf("got % X, want a CONNACK", connack)
	}
	return connack[3]
}

func TestStartAdmitsAnonymous(t *testing.T) {
	addr := Start(t, "")
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("address %q is not on 127.0.0.1", addr)
	}
	if code := connackCode(t, addr); code != 0 {
		t.Errorf("CONNACK return code %d, want 0 (accepted)", code)
	}
}

func TestStartExtraConfigOverrides(t *testing.T) {
	addr := Start(t, "allow_anonymous false")
	if code := connackCode(t, addr); code != 5 {
		t.Errorf("CONNACK return code %d, want 5 (not authorised)", code)
	}
}

func TestStartStopsWhenTestEnds(t *testing.T) {
	NeedBinary(t, "mosquitto")
	var addr string
	t.Run("broker", func(t *testing.T) { addr = Start(t, "") })
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Errorf("mosquitto still accepts on %s after its test ended", addr)
	}
}

func TestNeedBinaryMissingSkips(t *testing.T) {
	t.Setenv("CI", "")
	var sub *testing.T
	t.Run("missing", func(t *testing.T) {
		sub = t
		NeedBinary(t, "mosquittotest-no-such-program")
		t.Error("NeedBinary returned for a missing program")
	})
	if !sub.Skipped() {
		t.Error("NeedBinary did not skip the test")
	}
}

func TestFreeAddr(t *testing.T) {
	addr := FreeAddr(t)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot listen on %s: %v", addr, err)
	}
	l.Close()
}

func TestWaitFor(t *testing.T) {
	calls := 0
	WaitFor(t, time.Minute, "the third call", func() bool {
		calls++
		return calls == 3
	})
	if calls != 3 {
		t.Errorf("cond called %d times, want 3", calls)
	}
}

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	const writers, writes = 8, 100
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range writes {
				b.Write([]byte("x"))
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if got := len(b.String()); got != writers*writes {
		t.Errorf("buffer holds %d bytes, want %d", got, writers*writes)
	}
}
