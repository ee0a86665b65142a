// Command pebble is the cross-build and smoke test for github.com/cockroachdb/pebble: it
// writes RECORDS records (100,000 unless told) in synced batches, flushes
// and compacts them into tables, reopens the store and counts them.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/cockroachdb/pebble"
)

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: pebble DIR [RECORDS]")
		os.Exit(2)
	}
	records := 100_000
	if len(os.Args) == 3 {
		var err error
		if records, err = strconv.Atoi(os.Args[2]); err != nil || records <= 0 || records%1000 != 0 {
			fmt.Fprintln(os.Stderr, "pebble: RECORDS must be a positive multiple of 1000")
			os.Exit(2)
		}
	}
	if err := smoke(os.Args[1], records); err != nil {
		fmt.Fprintln(os.Stderr, "pebble:", err)
		os.Exit(1)
	}
}

func smoke(dir string, records int) error {
	defer os.RemoveAll(dir)
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		return err
	}
	for start := 0; start < records; start += 1000 {
		batch := db.NewBatch()
		for i := start; i < start+1000; i++ {
			_ = batch.Set(fmt.Appendf(nil, "key-%08d", i), fmt.Appendf(nil, "value-%08d", i), nil)
		}
		if err := batch.Commit(pebble.Sync); err != nil {
			db.Close()
			return err
		}
		batch.Close()
	}
	if err := db.Flush(); err != nil {
		db.Close()
		return err
	}
	if err := db.Compact([]byte("key-"), []byte("key-~"), true); err != nil {
		db.Close()
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	db, err = pebble.Open(dir, &pebble.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	iterator, err := db.NewIter(nil)
	if err != nil {
		return err
	}
	count := 0
	for valid := iterator.First(); valid; valid = iterator.Next() {
		count++
	}
	if err := iterator.Close(); err != nil {
		return err
	}
	if count != records {
		return fmt.Errorf("read %d records, want %d", count, records)
	}
	fmt.Println("ok", count, "records")
	return nil
}
