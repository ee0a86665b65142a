//go:build linux

package main

import (
	"fmt"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// boltStore is bbolt with one bucket per keyspace, opened by default with
// the options etcd uses for a write-heavy database: no freelist written at
// each commit (open rebuilds it by walking the tree) and the hashmap
// freelist. Without freelistUnsynced it keeps bbolt's defaults instead.
type boltStore struct {
	db      *bolt.DB
	durable bool
}

func openBolt(dir string, durable, freelistUnsynced bool) (*boltStore, error) {
	options := &bolt.Options{NoSync: !durable, FreelistType: bolt.FreelistArrayType}
	if freelistUnsynced {
		options.NoFreelistSync = true
		options.FreelistType = bolt.FreelistMapType
	}
	db, err := bolt.Open(filepath.Join(dir, "midge.db"), 0o600, options)
	if err != nil {
		return nil, fmt.Errorf("kvchoice: bbolt: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, keyspace := range keyspaces {
			if _, err := tx.CreateBucketIfNotExists([]byte{byte(keyspace)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("kvchoice: bbolt: %w", err)
	}
	return &boltStore{db: db, durable: durable}, nil
}

func (s *boltStore) apply(tx *bolt.Tx, operations []operation) error {
	var bucket *bolt.Bucket
	var current keyspace
	for _, operation := range operations {
		if bucket == nil || operation.keyspace != current {
			current = operation.keyspace
			bucket = tx.Bucket([]byte{byte(current)})
		}
		var err error
		if operation.delete {
			err = bucket.Delete(operation.key)
		} else {
			err = bucket.Put(operation.key, operation.value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *boltStore) commit(operations []operation) error {
	return s.db.Update(func(tx *bolt.Tx) error { return s.apply(tx, operations) })
}

func (s *boltStore) commitShared(operations []operation) error {
	if !s.durable {
		return s.commit(operations)
	}
	// DB.Batch may run the function more than once (it retries a failed
	// batch one call at a time); apply is idempotent.
	return s.db.Batch(func(tx *bolt.Tx) error { return s.apply(tx, operations) })
}

func (s *boltStore) syncLog() error { return s.db.Sync() }

func (s *boltStore) scan(visit func(keyspace keyspace, key, value []byte)) error {
	return s.db.View(func(tx *bolt.Tx) error {
		for _, keyspace := range keyspaces {
			cursor := tx.Bucket([]byte{byte(keyspace)}).Cursor()
			for key, value := cursor.First(); key != nil; key, value = cursor.Next() {
				visit(keyspace, key, value)
			}
		}
		return nil
	})
}

func (s *boltStore) close() error { return s.db.Close() }
