//go:build linux

package main

import (
	"fmt"
	"os"

	"github.com/cockroachdb/pebble"
)

// pebble1Store is pebble v1 with the keyspace byte in front of each key and
// default options (4 MiB memtable, 8 MiB block cache, snappy blocks).
type pebble1Store struct {
	db      *pebble.DB
	options *pebble.WriteOptions
}

func openPebble1(dir string, durable bool) (*pebble1Store, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("kvchoice: pebble: %w", err)
	}
	options := pebble.NoSync
	if durable {
		options = pebble.Sync
	}
	return &pebble1Store{db: db, options: options}, nil
}

func (s *pebble1Store) commit(operations []operation) error {
	batch := s.db.NewBatch()
	defer batch.Close()
	var key []byte
	for _, operation := range operations {
		key = append(append(key[:0], byte(operation.keyspace)), operation.key...)
		if operation.delete {
			_ = batch.Delete(key, nil)
		} else {
			_ = batch.Set(key, operation.value, nil)
		}
	}
	return batch.Commit(s.options)
}

func (s *pebble1Store) commitShared(operations []operation) error { return s.commit(operations) }

func (s *pebble1Store) syncLog() error { return s.db.LogData(nil, pebble.Sync) }

func (s *pebble1Store) scan(visit func(keyspace keyspace, key, value []byte)) error {
	iterator, err := s.db.NewIter(nil)
	if err != nil {
		return err
	}
	for valid := iterator.First(); valid; valid = iterator.Next() {
		key := iterator.Key()
		visit(keyspace(key[0]), key[1:], iterator.Value())
	}
	return iterator.Close()
}

func (s *pebble1Store) close() error { return s.db.Close() }

// quietLogger drops pebble's informational lines and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}

func (quietLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
}

func (quietLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
	os.Exit(1)
}
