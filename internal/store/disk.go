package store

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// DiskOptions configures a Disk store.
type DiskOptions struct {
	// SyncInterval, when positive, is the interval durability of
	// persistence: writes are acknowledged once handed to the store, and
	// the store syncs to disk at most this long after. Zero is the
	// default, acknowledge after sync: a write's done is called once it is
	// on stable storage, with writes from many clients grouped into one
	// sync.
	SyncInterval time.Duration

	// Logger receives the store's own messages (pebble's); nil discards.
	Logger io.Writer

	// MinFree is the free space the store leaves on its filesystem: below
	// it, writes fail with ErrDiskFull rather than reach the disk (pebble
	// cannot go on after a write the disk refuses). Zero means 64 MiB, but
	// no more than a tenth of the filesystem.
	MinFree uint64
}

// ErrDiskFull is the error of writes refused because the filesystem has
// less free space than DiskOptions.MinFree.
var ErrDiskFull = errors.New("store: disk full")

// Disk is a Store in a directory, on pebble (an LSM tree with a write-ahead
// log; see docs/persistence.md for why). One goroutine commits: batches
// that arrive while it writes or syncs are grouped into its next commit,
// so that many publishers share one sync.
type Disk struct {
	db   *pebble.DB
	opts DiskOptions
	dir  string

	mu      sync.Mutex
	pending []write // guarded by mu
	wake    chan struct{}
	closed  bool          // guarded by mu
	done    chan struct{} // closed when the committer has returned
	dirty   bool          // committer only: written since the last sync
}

type write struct {
	keys, values [][]byte
	sync         bool
	done         func(error)
}

// OpenDisk opens (creating if need be) the store in dir. A store pebble
// finds damaged is an error naming dir that wraps ErrDamaged.
func OpenDisk(dir string, opts DiskOptions) (d *Disk, err error) {
	defer recoverDamage(&err)
	po := &pebble.Options{
		Logger: quietLogger{opts.Logger},
		// The format where the log records how far it was synced, so that
		// damage in its middle is told apart from the torn tail a crash
		// leaves (pebble drops the latter as never acknowledged), and
		// tables carry a checksum in their footer too. An older store is
		// moved up to it at open; pinned rather than pebble.FormatNewest, so
		// that a later pebble does not move stores on by itself.
		FormatMajorVersion: pebble.FormatTableFormatV6,
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		if pebble.IsCorruptionError(err) {
			return nil, fmt.Errorf("store: opening %s: %w: %w", dir, ErrDamaged, err)
		}
		return nil, fmt.Errorf("store: opening %s: %w", dir, err)
	}
	// A flush starts a new log, which is written in the format above: the
	// log pebble opened with may predate it (a new store starts at an older
	// format and is moved up during Open).
	if err := db.Flush(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: opening %s: %w", dir, err)
	}
	d = &Disk{db: db, opts: opts, dir: dir, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go d.commit()
	return d, nil
}

// Write queues a batch for the committer.
func (d *Disk) Write(keys, values [][]byte, sync bool, done func(error)) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		if done != nil {
			done(ErrClosed)
		}
		return
	}
	d.pending = append(d.pending, write{keys, values, sync, done})
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// commit is the committer: it takes everything queued, applies it as one
// pebble batch, syncs the log if any write asked for it (in sync mode),
// and then calls the writes' done functions in order.
func (d *Disk) commit() {
	defer close(d.done)
	var tick <-chan time.Time
	if d.opts.SyncInterval > 0 {
		t := time.NewTicker(d.opts.SyncInterval)
		defer t.Stop()
		tick = t.C
	}
	var batch []write
	for {
		select {
		case <-d.wake:
		case <-tick:
			if d.dirty {
				d.syncLog()
			}
			continue
		}
		d.mu.Lock()
		batch, d.pending = d.pending, batch[:0]
		closed := d.closed
		d.mu.Unlock()
		if len(batch) > 0 {
			d.apply(batch)
			clear(batch)
		}
		if closed {
			return
		}
	}
}

// full reports whether the filesystem has less free space than the store
// leaves. A filesystem that cannot say is taken as not full.
func (d *Disk) full() bool {
	u, err := vfs.Default.GetDiskUsage(d.dir)
	if err != nil {
		return false
	}
	reserve := d.opts.MinFree
	if reserve == 0 {
		reserve = min(64<<20, u.TotalBytes/10)
	}
	return u.AvailBytes < reserve
}

func (d *Disk) apply(writes []write) {
	if d.full() {
		for _, w := range writes {
			if w.done != nil {
				w.done(ErrDiskFull)
			}
		}
		return
	}
	b := d.db.NewBatch()
	sync := false
	for _, w := range writes {
		sync = sync || w.sync
		for i, k := range w.keys {
			if w.values[i] == nil {
				b.Delete(k, nil)
			} else {
				b.Set(k, w.values[i], nil)
			}
		}
	}
	if d.opts.SyncInterval > 0 {
		sync = false // interval durability: the ticker syncs
	}
	var err error
	switch {
	case !b.Empty():
		opt := pebble.NoSync
		if sync {
			opt = pebble.Sync
		}
		err = b.Commit(opt)
		d.dirty = !sync
	case sync && d.dirty:
		err = d.db.LogData(nil, pebble.Sync) // earlier unsynced writes
		d.dirty = err != nil
	}
	b.Close()
	for _, w := range writes {
		if w.done != nil {
			w.done(err)
		}
	}
}

func (d *Disk) syncLog() {
	if err := d.db.LogData(nil, pebble.Sync); err == nil {
		d.dirty = false
	}
}

// ErrDamaged wraps the corruption pebble found while loading.
var ErrDamaged = errors.New("store: damaged")

// damage is how pebble's Fatalf reports corruption: the store panics with
// it, and Load and Close turn it back into an error.
type damage struct{ msg string }

// Load calls fn with every key and value in key order. Corruption pebble
// finds (a checksum that does not match) is an error wrapping ErrDamaged.
func (d *Disk) Load(fn func(key, value []byte) error) (err error) {
	defer recoverDamage(&err)
	it, err := d.db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return fmt.Errorf("store: reading %q: %w", it.Key(), err)
		}
		if err := fn(it.Key(), v); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Close commits and syncs what is queued, flushes it into table files and
// closes the store.
func (d *Disk) Close() (err error) {
	defer recoverDamage(&err)
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return errors.New("store: closed twice")
	}
	d.closed = true
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
	<-d.done
	// Move everything from the log into checksummed table files, where
	// damage is always found; the log is what a crash leaves behind.
	flushErr := d.db.Flush()
	return errors.Join(flushErr, d.db.Close())
}

// quietLogger passes pebble's messages to w, or drops them.
type quietLogger struct{ w io.Writer }

func (l quietLogger) Infof(format string, args ...any) {
	if l.w != nil {
		fmt.Fprintf(l.w, format+"\n", args...)
	}
}

func (l quietLogger) Errorf(format string, args ...any) { l.Infof(format, args...) }

func (l quietLogger) Fatalf(format string, args ...any) {
	l.Infof(format, args...)
	panic(damage{fmt.Sprintf(format, args...)})
}

// recoverDamage turns a damage panic into an error in *err.
func recoverDamage(err *error) {
	if r := recover(); r != nil {
		dm, ok := r.(damage)
		if !ok {
			*err = fmt.Errorf("%w: %v", ErrDamaged, r)
			return
		}
		*err = fmt.Errorf("%w: %s", ErrDamaged, dm.msg)
	}
}
