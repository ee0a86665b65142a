package broker

// Store keeps the broker's state across restarts as keys and values of the
// broker's choosing: retained messages and persistent sessions. The broker
// maps its state to keys and values (persist.go); a Store only keeps them.
// internal/store has one on disk and one in memory. Nil Options.Store keeps
// nothing.
//
// Write and Load are called from many goroutines, Write concurrently with
// itself; Close once, after the last Write.
type Store interface {
	// Write applies one batch: each key is set to its value, or deleted
	// where the value is nil. Batches are applied in the order Write is
	// called, all of a batch or none of it. done, which may be nil, is
	// called once the batch is durable (with sync, on stable storage;
	// without, handed to the store's own schedule) or has failed; calls to
	// done come in the order of the Writes, and must not block. The store
	// owns keys and values from the call on: the broker does not touch them
	// again.
	Write(keys, values [][]byte, sync bool, done func(error))

	// Load calls fn with every key and value, in key order. The slices are
	// valid only during the call.
	Load(fn func(key, value []byte) error) error

	// Close writes what is pending and releases the store.
	Close() error
}
