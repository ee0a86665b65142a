package client

import "testing"

// TestPacketIDs checks identifiers are never 0, wrap after 65535, and skip
// those in use.
func TestPacketIDs(t *testing.T) {
	c := &Client{pending: make(map[uint16]*pending)}
	c.nextID = 65533
	c.pending[65535] = &pending{}
	c.pending[1] = &pending{}
	var got []uint16
	for range 3 {
		id, err := c.register(&pending{})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, id)
	}
	if want := []uint16{65534, 2, 3}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("ids %v, want %v", got, want)
	}
	for id := range 65536 {
		if id != 0 {
			c.pending[uint16(id)] = &pending{}
		}
	}
	if _, err := c.register(&pending{}); err != ErrNoPacketID {
		t.Fatalf("register with every id in use = %v, want ErrNoPacketID", err)
	}
}
