// Command none is the baseline for binary size: the smoke test of the
// store programs with a plain file instead of a store.
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: none DIR [RECORDS]")
		os.Exit(2)
	}
	records := 100_000
	if len(os.Args) == 3 {
		var err error
		if records, err = strconv.Atoi(os.Args[2]); err != nil || records <= 0 || records%1000 != 0 {
			fmt.Fprintln(os.Stderr, "none: RECORDS must be a positive multiple of 1000")
			os.Exit(2)
		}
	}
	if err := smoke(os.Args[1], records); err != nil {
		fmt.Fprintln(os.Stderr, "none:", err)
		os.Exit(1)
	}
}

func smoke(dir string, records int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "records")
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	for i := range records {
		fmt.Fprintf(file, "key-%08d value-%08d\n", i, i)
	}
	if err := file.Sync(); err != nil {
		return err
	}
	if err := file.Close(); err != nil {
		return err
	}
	file, err = os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	count := 0
	for scanner := bufio.NewScanner(file); scanner.Scan(); {
		count++
	}
	if count != records {
		return fmt.Errorf("read %d records, want %d", count, records)
	}
	fmt.Println("ok", count, "records")
	return nil
}
