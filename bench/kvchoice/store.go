//go:build linux

package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// keyspace names the kind of record: bbolt keeps one bucket per keyspace,
// pebble puts it in front of the key.
type keyspace byte

// The keyspaces of the model. The broker's real mapping lives in
// internal/store; these only give the benchmark the same shapes.
const (
	keyspaceMessage      keyspace = 'm' // message record: topic, properties, payload
	keyspaceQueue        keyspace = 'q' // one entry per offline subscriber and message
	keyspaceRetained     keyspace = 'r' // retained message by topic
	keyspaceSession      keyspace = 's' // persistent session by client id
	keyspaceSubscription keyspace = 'u' // subscription by client id and filter
)

// keyspaces lists every keyspace, for stores that must create them.
var keyspaces = []keyspace{keyspaceMessage, keyspaceQueue, keyspaceRetained, keyspaceSession, keyspaceSubscription}

// operation is one put or delete in a write.
type operation struct {
	keyspace keyspace
	key      []byte
	value    []byte // nil for a delete
	delete   bool
}

// kv is what each candidate store has to offer the benchmark.
type kv interface {
	// commit applies operations atomically as one transaction or batch.
	// In a store opened durable it returns once they are on disk.
	commit(operations []operation) error
	// commitShared is commit for many goroutines at once, grouped by the
	// store's own facility: bbolt's DB.Batch when durable (DB.Update
	// otherwise), pebble's commit pipeline, which syncs concurrent
	// batches' WAL records together.
	commitShared(operations []operation) error
	// syncLog makes everything committed so far durable (interval mode).
	syncLog() error
	// scan calls visit for every record in the store.
	scan(visit func(keyspace keyspace, key, value []byte)) error
	close() error
}

// openStore opens the named candidate in dir. durable says whether each
// commit must be synced before it returns.
func openStore(name, dir string, durable bool) (kv, error) {
	switch name {
	case "bbolt":
		return openBolt(dir, durable, true)
	case "bbolt-freelist":
		return openBolt(dir, durable, false)
	case "pebble":
		return openPebble1(dir, durable)
	case "pebble2":
		return openPebble2(dir, durable)
	}
	return nil, fmt.Errorf("kvchoice: unknown store %q (bbolt, bbolt-freelist, pebble, pebble2)", name)
}

// storeNames lists the candidates in the order reports show them.
// bbolt-freelist, bbolt with the freelist written at every commit (its
// default), can be asked for with -stores.
var storeNames = []string{"bbolt", "pebble", "pebble2"}

// storeLabels are the names with the version benchmarked, for reports.
var storeLabels = map[string]string{
	"bbolt":          "bbolt v1.5.0",
	"bbolt-freelist": "bbolt v1.5.0, freelist synced",
	"pebble":         "pebble v1.1.5",
	"pebble2":        "pebble v2.1.7",
}

// committer is the grouping goroutine midge would own: it takes every
// request waiting when the previous commit finishes and commits them as one
// transaction, so one sync covers writes from many clients. There is no
// timer: a lone writer is committed at once.
type committer struct {
	store    kv
	requests chan *commitRequest
	maxGroup int
	groups   int // commits made; read after close
	errs     chan error
	wg       sync.WaitGroup
}

// commitRequest is one client's write. done, when not nil, receives the
// commit's outcome; a nil done means nobody waits (a delete after PUBACK).
type commitRequest struct {
	operations []operation
	done       chan error
}

func newCommitter(store kv, maxGroup int) *committer {
	c := &committer{
		store:    store,
		requests: make(chan *commitRequest, maxGroup),
		maxGroup: maxGroup,
		errs:     make(chan error, 1),
	}
	c.wg.Add(1)
	go c.run()
	return c
}

// submit queues a request; it blocks while maxGroup requests are waiting.
func (c *committer) submit(request *commitRequest) { c.requests <- request }

// close commits what is queued and stops the goroutine; it returns the first
// error of a commit nobody waited for.
func (c *committer) close() error {
	close(c.requests)
	c.wg.Wait()
	select {
	case err := <-c.errs:
		return err
	default:
		return nil
	}
}

func (c *committer) run() {
	defer c.wg.Done()
	group := make([]*commitRequest, 0, c.maxGroup)
	var operations []operation
	for first := range c.requests {
		group = append(group[:0], first)
		operations = append(operations[:0], first.operations...)
	drain:
		for len(group) < c.maxGroup {
			select {
			case request, ok := <-c.requests:
				if !ok {
					break drain
				}
				group = append(group, request)
				operations = append(operations, request.operations...)
			default:
				break drain
			}
		}
		err := c.store.commit(operations)
		c.groups++
		for _, request := range group {
			if request.done != nil {
				request.done <- err
			} else if err != nil {
				select {
				case c.errs <- err:
				default:
				}
			}
		}
	}
}

// diskBytes is the space the files under dir take on disk (allocated
// blocks, as du counts them).
func diskBytes(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, entry fs.DirEntry, err error) error {
		if err != nil || entry.IsDir() {
			return nil
		}
		info, err := entry.Info()
		if err != nil {
			return nil
		}
		if stat, ok := info.Sys().(*syscall.Stat_t); ok {
			total += stat.Blocks * 512
		} else {
			total += info.Size()
		}
		return nil
	})
	return total
}

// removeAll deletes a data directory and says so when it cannot.
func removeAll(dir string) {
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "kvchoice:", err)
	}
}
