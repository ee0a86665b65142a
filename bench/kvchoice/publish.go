//go:build linux

package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// publishConfig is one run of the write pattern of QoS 1 messages to
// offline persistent sessions.
type publishConfig struct {
	Store       string        `json:"store"`
	Mode        string        `json:"mode"`  // "sync": ack after the grouped sync; "interval": ack after the write, sync every second
	Group       string        `json:"group"` // "own": midge's grouping goroutine; "store": the store's own facility
	Publishers  int           `json:"publishers"`
	Subscribers int           `json:"subscribers"`
	Payload     int           `json:"payload"`
	Messages    int           `json:"messages"` // stop after this many messages
	Duration    time.Duration `json:"duration"` // or after this long
	Rep         int           `json:"rep"`
	Dir         string        `json:"dir"`
}

// publishResult is what one run measured.
type publishResult struct {
	Messages          int     `json:"messages"`
	Seconds           float64 `json:"seconds"`
	MessagesPerSecond float64 `json:"messages_per_second"`
	P50Micros         float64 `json:"p50_us"`
	P99Micros         float64 `json:"p99_us"`
	MessagesPerCommit float64 `json:"messages_per_commit,omitempty"` // own grouping only
	DiskAfterPublish  int64   `json:"disk_after_publish"`
	WrittenPerMessage float64 `json:"written_per_message"` // bytes sent to the disk while publishing (/proc/self/io write_bytes), per message
	DeleteSeconds     float64 `json:"delete_seconds"`
	EntriesPerSecond  float64 `json:"deleted_entries_per_second"`
	DiskAfterDelete   int64   `json:"disk_after_delete"`
}

// The record shapes: a message record is a 24-byte key and a 16-byte header,
// a 30-byte topic and the payload; a queue entry is a 32-byte key (client
// id, message sequence) and a 16-byte value.
const (
	messageHeaderSize = 16
	entryValueSize    = 16
)

func messageKey(buffer []byte, sequence uint64) []byte {
	return fmt.Appendf(buffer[:0], "msg/%020d", sequence)
}

func queueKey(buffer []byte, client string, sequence uint64) []byte {
	return fmt.Appendf(buffer[:0], "%s/%019d", client, sequence)
}

func clientID(index int) string { return fmt.Sprintf("client-%05d", index) }

// publisher holds one publisher's reusable buffers: it waits for each ack,
// so a write's bytes are free again when it returns.
type publisher struct {
	config     publishConfig
	topic      string
	random     *rand.PCG
	operations []operation
	latencies  []time.Duration
	done       chan error
}

func newPublisher(config publishConfig, index int) *publisher {
	p := &publisher{
		config:     config,
		topic:      fmt.Sprintf("sensors/publisher-%04d/reading", index),
		random:     rand.NewPCG(uint64(index), 42),
		operations: make([]operation, 1+config.Subscribers),
		done:       make(chan error, 1),
	}
	p.operations[0] = operation{
		keyspace: keyspaceMessage,
		key:      make([]byte, 0, 32),
		value:    make([]byte, messageHeaderSize+len(p.topic)+config.Payload),
	}
	for i := 1; i <= config.Subscribers; i++ {
		p.operations[i] = operation{keyspace: keyspaceQueue, key: make([]byte, 0, 40), value: make([]byte, entryValueSize)}
	}
	return p
}

// fill writes message sequence into the publisher's operations. The payload
// is fresh random bytes each time, so that no store gains from compressing
// repeats.
func (p *publisher) fill(sequence uint64) {
	message := &p.operations[0]
	message.key = messageKey(message.key, sequence)
	binary.BigEndian.PutUint64(message.value, sequence)
	binary.BigEndian.PutUint64(message.value[8:], uint64(time.Now().UnixNano()))
	copy(message.value[messageHeaderSize:], p.topic)
	payload := message.value[messageHeaderSize+len(p.topic):]
	for len(payload) >= 8 {
		binary.LittleEndian.PutUint64(payload, p.random.Uint64())
		payload = payload[8:]
	}
	for i := range payload {
		payload[i] = byte(p.random.Uint64())
	}
	for i := 1; i <= p.config.Subscribers; i++ {
		entry := &p.operations[i]
		entry.key = queueKey(entry.key, clientID(i-1), sequence)
		binary.BigEndian.PutUint64(entry.value, sequence)
		binary.BigEndian.PutUint16(entry.value[8:], uint16(sequence))
		entry.value[10] = 1 // QoS
	}
}

// runPublish publishes until the count or the time is reached, then lets
// each offline subscriber come back and acknowledge its whole queue.
func runPublish(config publishConfig) (publishResult, error) {
	var result publishResult
	store, err := openStore(config.Store, config.Dir, config.Mode == "sync")
	if err != nil {
		return result, err
	}
	defer store.close()
	group := newCommitter(store, 1024)
	stopSyncer := startSyncer(store, config.Mode)

	writtenBefore := writtenBytes()
	var next atomic.Uint64
	deadline := time.Now().Add(config.Duration)
	publishers := make([]*publisher, config.Publishers)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for i := range publishers {
		p := newPublisher(config, i)
		publishers[i] = p
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.run(&next, deadline, store, group); err != nil {
				firstErr.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, _ := firstErr.Load().(error); err != nil {
		return result, err
	}
	published := min(next.Load(), uint64(config.Messages))
	result.Messages = int(published)
	result.Seconds = elapsed.Seconds()
	result.MessagesPerSecond = float64(published) / elapsed.Seconds()
	var latencies []time.Duration
	for _, p := range publishers {
		latencies = append(latencies, p.latencies...)
	}
	slices.Sort(latencies)
	result.P50Micros = percentile(latencies, 0.50)
	result.P99Micros = percentile(latencies, 0.99)
	if config.Group == "own" && group.groups > 0 {
		result.MessagesPerCommit = float64(published) / float64(group.groups)
	}
	result.DiskAfterPublish = diskBytes(config.Dir)
	result.WrittenPerMessage = float64(writtenBytes()-writtenBefore) / float64(max(published, 1))

	start = time.Now()
	deleteQueues(config, published, group)
	if err := group.close(); err != nil {
		return result, err
	}
	if err := stopSyncer(); err != nil {
		return result, err
	}
	result.DeleteSeconds = time.Since(start).Seconds()
	result.EntriesPerSecond = float64(published) * float64(config.Subscribers) / result.DeleteSeconds
	result.DiskAfterDelete = diskBytes(config.Dir)
	return result, nil
}

// run is one publisher's loop: take the next sequence, write, wait for the ack.
func (p *publisher) run(next *atomic.Uint64, deadline time.Time, store kv, group *committer) error {
	request := &commitRequest{operations: p.operations, done: p.done}
	for time.Now().Before(deadline) {
		sequence := next.Add(1)
		if sequence > uint64(p.config.Messages) {
			return nil
		}
		p.fill(sequence)
		start := time.Now()
		var err error
		if p.config.Group == "own" {
			group.submit(request)
			err = <-p.done
		} else {
			err = store.commitShared(p.operations)
		}
		if err != nil {
			return err
		}
		p.latencies = append(p.latencies, time.Since(start))
	}
	return nil
}

// deleteQueues is the delivery side: each subscriber acknowledges its queue
// in order; every PUBACK deletes the queue entry, and the last one for a
// message deletes the message record too. Nobody waits for these commits
// (a lost delete means a redelivery, which QoS 1 allows), so they always go
// through the grouping goroutine.
func deleteQueues(config publishConfig, published uint64, group *committer) {
	references := make([]atomic.Int32, published+1)
	for i := range references {
		references[i].Store(int32(config.Subscribers))
	}
	var wg sync.WaitGroup
	for subscriber := range config.Subscribers {
		client := clientID(subscriber)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sequence := uint64(1); sequence <= published; sequence++ {
				operations := make([]operation, 1, 2)
				operations[0] = operation{keyspace: keyspaceQueue, key: queueKey(nil, client, sequence), delete: true}
				if references[sequence].Add(-1) == 0 {
					operations = append(operations, operation{keyspace: keyspaceMessage, key: messageKey(nil, sequence), delete: true})
				}
				group.submit(&commitRequest{operations: operations})
			}
		}()
	}
	wg.Wait()
}

// startSyncer syncs the store every second in interval mode; the returned
// function stops it after a last sync.
func startSyncer(store kv, mode string) func() error {
	if mode != "interval" {
		return func() error { return nil }
	}
	stop := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		ticker := time.NewTicker(time.Second)
		defer ticker.Stop()
		for {
			select {
			case <-ticker.C:
				if err := store.syncLog(); err != nil {
					errs <- err
					return
				}
			case <-stop:
				errs <- store.syncLog()
				return
			}
		}
	}()
	return func() error {
		close(stop)
		return <-errs
	}
}

// writtenBytes is what this process has caused to be written to storage so
// far (write_bytes in /proc/self/io): pages the store wrote and synced, the
// writes of pebble's flushes and compactions included.
func writtenBytes() int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if value, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			bytes, _ := strconv.ParseInt(value, 10, 64)
			return bytes
		}
	}
	return 0
}

// percentile of sorted durations, in microseconds.
func percentile(sorted []time.Duration, fraction float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	index := int(fraction * float64(len(sorted)-1))
	return float64(sorted[index]) / float64(time.Microsecond)
}
