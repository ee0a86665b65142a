//go:build linux

package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// restartConfig is the state a broker finds at start: retained messages and
// persistent sessions with their subscriptions.
type restartConfig struct {
	Store         string `json:"store"`
	Retained      int    `json:"retained"`
	Sessions      int    `json:"sessions"`
	Subscriptions int    `json:"subscriptions"` // per session
	Cold          bool   `json:"cold"`          // evict the store's files from the page cache before opening
	Rep           int    `json:"rep"`
	Dir           string `json:"dir"`
}

// loadResult is what writing the state cost.
type loadResult struct {
	LoadSeconds float64 `json:"load_seconds"`
	Disk        int64   `json:"disk"`
}

// openResult is what a start measured: open, a full scan, and memory after.
type openResult struct {
	OpenSeconds  float64 `json:"open_seconds"`
	ScanSeconds  float64 `json:"scan_seconds"`
	TotalSeconds float64 `json:"total_seconds"`
	Records      int     `json:"records"`
	Bytes        int64   `json:"bytes"`
	VmRSS        int64   `json:"vm_rss"`   // bytes, /proc/self/status
	RssAnon      int64   `json:"rss_anon"` // bytes: heap, stacks, the store's own caches
	RssFile      int64   `json:"rss_file"` // bytes: mapped file pages (bbolt's mmap)
	VmHWM        int64   `json:"vm_hwm"`   // peak RSS
	HeapInuse    uint64  `json:"heap_inuse"`
	GoSys        uint64  `json:"go_sys"` // everything the Go runtime obtained from the OS
}

const loadBatch = 50_000

// runLoad writes the retained messages in random topic order (as they would
// arrive), then the sessions and their subscriptions, in batches, and closes
// the store without any extra flush.
func runLoad(config restartConfig) (loadResult, error) {
	var result loadResult
	store, err := openStore(config.Store, config.Dir, false)
	if err != nil {
		return result, err
	}
	start := time.Now()
	random := rand.New(rand.NewPCG(7, 7))
	var operations []operation
	flush := func() error {
		err := store.commit(operations)
		operations = operations[:0]
		return err
	}
	add := func(keyspace keyspace, key, value []byte) error {
		operations = append(operations, operation{keyspace: keyspace, key: key, value: value})
		if len(operations) == loadBatch {
			return flush()
		}
		return nil
	}
	for _, index := range random.Perm(config.Retained) {
		value := make([]byte, messageHeaderSize+64)
		binary.BigEndian.PutUint64(value, uint64(index))
		for i := messageHeaderSize; i < len(value); i += 8 {
			binary.LittleEndian.PutUint64(value[i:], random.Uint64())
		}
		if err := add(keyspaceRetained, retainedTopic(index), value); err != nil {
			store.close()
			return result, err
		}
	}
	for session := range config.Sessions {
		client := fmt.Sprintf("session-client-%05d", session)
		value := make([]byte, 64) // expiry, protocol level, will, last packet id
		binary.BigEndian.PutUint32(value, 3600)
		if err := add(keyspaceSession, []byte(client), value); err != nil {
			store.close()
			return result, err
		}
		for subscription := range config.Subscriptions {
			key := fmt.Appendf(nil, "%s/site/%03d/device/+/state/%d", client, session%1000, subscription)
			if err := add(keyspaceSubscription, key, []byte{1, 0, 0, 0}); err != nil {
				store.close()
				return result, err
			}
		}
	}
	if len(operations) > 0 {
		if err := flush(); err != nil {
			store.close()
			return result, err
		}
	}
	if err := store.syncLog(); err != nil {
		store.close()
		return result, err
	}
	if err := store.close(); err != nil {
		return result, err
	}
	result.LoadSeconds = time.Since(start).Seconds()
	result.Disk = diskBytes(config.Dir)
	return result, nil
}

// retainedTopic is a 28-byte topic, unique per index.
func retainedTopic(index int) []byte {
	return fmt.Appendf(nil, "site/%03d/device/%06d/state", index%1000, index)
}

// runOpen is what the broker does at start: open the store and read every
// record once. Memory is read after the scan, with the store still open.
func runOpen(config restartConfig) (openResult, error) {
	var result openResult
	if config.Cold {
		if err := evict(config.Dir); err != nil {
			return result, err
		}
	}
	start := time.Now()
	store, err := openStore(config.Store, config.Dir, true)
	if err != nil {
		return result, err
	}
	defer store.close()
	opened := time.Now()
	counts := map[keyspace]int{}
	err = store.scan(func(keyspace keyspace, key, value []byte) {
		counts[keyspace]++
		result.Bytes += int64(len(key) + len(value))
	})
	if err != nil {
		return result, err
	}
	scanned := time.Now()
	result.OpenSeconds = opened.Sub(start).Seconds()
	result.ScanSeconds = scanned.Sub(opened).Seconds()
	result.TotalSeconds = scanned.Sub(start).Seconds()
	for _, count := range counts {
		result.Records += count
	}
	want := config.Retained + config.Sessions*(1+config.Subscriptions)
	if counts[keyspaceRetained] != config.Retained || result.Records != want {
		return result, fmt.Errorf("kvchoice: scan found %d records (%d retained), want %d (%d)",
			result.Records, counts[keyspaceRetained], want, config.Retained)
	}
	var memory runtime.MemStats
	runtime.ReadMemStats(&memory)
	result.HeapInuse = memory.HeapInuse
	result.GoSys = memory.Sys
	status, err := procStatus()
	if err != nil {
		return result, err
	}
	result.VmRSS, result.RssAnon, result.RssFile, result.VmHWM =
		status["VmRSS"], status["RssAnon"], status["RssFile"], status["VmHWM"]
	return result, nil
}

// evict drops the clean pages of every file under dir from the page cache,
// so that the open reads from the disk as after a reboot. It touches only
// these files.
func evict(dir string) error {
	return filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil || entry.IsDir() {
			return err
		}
		file, err := os.Open(path)
		if err != nil {
			return err
		}
		defer file.Close()
		return unix.Fadvise(int(file.Fd()), 0, 0, unix.FADV_DONTNEED)
	})
}

// procStatus reads the kB fields of /proc/self/status, in bytes.
func procStatus() (map[string]int64, error) {
	file, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	defer file.Close()
	fields := map[string]int64{}
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		name, rest, ok := strings.Cut(scanner.Text(), ":")
		rest = strings.TrimSpace(rest)
		if !ok || !strings.HasSuffix(rest, " kB") {
			continue
		}
		kilobytes, err := strconv.ParseInt(strings.TrimSuffix(rest, " kB"), 10, 64)
		if err == nil {
			fields[name] = kilobytes * 1024
		}
	}
	return fields, scanner.Err()
}
