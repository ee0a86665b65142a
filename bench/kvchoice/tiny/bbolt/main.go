// Command bbolt is the cross-build and smoke test for bbolt: it writes
// RECORDS records (100,000 unless told) in synced transactions, reopens the
// file and counts them.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: bbolt DIR [RECORDS]")
		os.Exit(2)
	}
	records := 100_000
	if len(os.Args) == 3 {
		var err error
		if records, err = strconv.Atoi(os.Args[2]); err != nil || records <= 0 || records%1000 != 0 {
			fmt.Fprintln(os.Stderr, "bbolt: RECORDS must be a positive multiple of 1000")
			os.Exit(2)
		}
	}
	if err := smoke(os.Args[1], records); err != nil {
		fmt.Fprintln(os.Stderr, "bbolt:", err)
		os.Exit(1)
	}
}

func smoke(dir string, records int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "smoke.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	name := []byte("records")
	for start := 0; start < records; start += 1000 {
		err := db.Update(func(tx *bolt.Tx) error {
			bucket, err := tx.CreateBucketIfNotExists(name)
			if err != nil {
				return err
			}
			for i := start; i < start+1000; i++ {
				if err := bucket.Put(fmt.Appendf(nil, "key-%08d", i), fmt.Appendf(nil, "value-%08d", i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			db.Close()
			return err
		}
	}
	if err := db.Close(); err != nil {
		return err
	}
	db, err = bolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	count := 0
	err = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(name).ForEach(func(_, _ []byte) error {
			count++
			return nil
		})
	})
	if err != nil {
		return err
	}
	if count != records {
		return fmt.Errorf("read %d records, want %d", count, records)
	}
	fmt.Println("ok", count, "records")
	return nil
}
