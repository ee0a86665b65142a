//go:build linux

package main

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// pebble2Store is pebble v2 with the keyspace byte in front of each key and
// default options (4 MiB memtable, 8 MiB block cache, snappy blocks).
type pebble2Store struct {
	db      *pebble.DB
	options *pebble.WriteOptions
}

func openPebble2(dir string, durable bool) (*pebble2Store, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("kvchoice: pebble v2: %w", err)
	}
	options := pebble.NoSync
	if durable {
		options = pebble.Sync
	}
	return &pebble2Store{db: db, options: options}, nil
}

func (s *pebble2Store) commit(operations []operation) error {
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

func (s *pebble2Store) commitShared(operations []operation) error { return s.commit(operations) }

func (s *pebble2Store) syncLog() error { return s.db.LogData(nil, pebble.Sync) }

func (s *pebble2Store) scan(visit func(keyspace keyspace, key, value []byte)) error {
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

func (s *pebble2Store) close() error { return s.db.Close() }
