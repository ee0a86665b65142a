package store

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"syscall"
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

	// Failed, when set, is called once if the store stops persisting
	// while open: damage found by a compaction, or an error pebble cannot
	// go on after (a disk that refuses a write despite MinFree, a failing
	// disk). Every write after fails with err, which wraps ErrDamaged or
	// ErrDiskFull. It is called from the goroutine that found the trouble
	// and must not block. A failure OpenDisk or Load returns is not also
	// reported here.
	Failed func(err error)

	// Notice, when set, is told what OpenDisk changed besides the data,
	// for the log: an existing store it made private (fs.go).
	Notice func(msg string)

	tune func(*pebble.Options) // tests: pebble's compaction settings
}

// ErrDiskFull is the error of writes refused because the filesystem has
// less free space than DiskOptions.MinFree, and wrapped by the error of a
// store that ran out of space (at open, or in a write the disk refused).
var ErrDiskFull = errors.New("store: disk full")

// Disk is a Store in a directory, on pebble (an LSM tree with a write-ahead
// log; see docs/persistence.md for why). One goroutine commits: batches
// that arrive while it writes or syncs are grouped into its next commit,
// so that many publishers share one sync.
//
// A Disk that finds damage while open, or meets an error pebble cannot go
// on after, stops persisting (fail.go): every later write fails with that
// error, and the process goes on.
type Disk struct {
	db   *pebble.DB
	lock *pebble.Lock // the store's LOCK file, taken before pebble opens
	opts DiskOptions
	dir  string

	// answering is held while done functions are called, so that they
	// keep the order of the writes whoever answers them. Before mu.
	answering sync.Mutex

	mu       sync.Mutex
	pending  []write // guarded by mu
	inflight []write // guarded by mu: taken by the committer, not answered yet
	closed   bool    // guarded by mu
	failed   error   // guarded by mu: why the store stopped, or nil
	wedged   bool    // guarded by mu: a Fatalf; pebble must not be called again
	opened   bool    // guarded by mu: OpenDisk has returned it
	loading  int     // guarded by mu: Loads running, which return a failure themselves
	wake     chan struct{}
	done     chan struct{} // closed when the committer has returned
	stopped  chan struct{} // closed when failed is set
	wedge    chan struct{} // closed when wedged is set
	dirty    bool          // committer only: written since the last sync
}

type write struct {
	keys, values [][]byte
	sync         bool
	done         func(error)
}

// OpenDisk opens the store in dir, creating dir (0700, in a folder that
// exists) if need be; its files are 0600 (fs.go). A dir whose parent does
// not exist is a *MissingParentError; a store another process has open,
// an error wrapping ErrInUse; a store pebble finds damaged, an error
// naming dir that wraps ErrDamaged; a filesystem without
// DiskOptions.MinFree free, or one that refuses pebble a write while
// opening, an error that wraps ErrDiskFull.
func OpenDisk(dir string, opts DiskOptions) (_ *Disk, err error) {
	d := &Disk{opts: opts, dir: dir, wake: make(chan struct{}, 1), done: make(chan struct{}),
		stopped: make(chan struct{}), wedge: make(chan struct{})}
	if missing := missingParent(dir); missing != "" {
		return nil, &MissingParentError{Dir: dir, Missing: missing}
	}
	if avail, reserve, ok := d.space(); ok && avail < reserve {
		return nil, noSpace(fmt.Sprintf("store: opening %s: no space left on device (%s free; the store keeps %s free)",
			dir, bytesText(avail), bytesText(reserve)))
	}
	if err := d.open(); err != nil {
		d.abandon()
		return nil, err
	}
	d.mu.Lock()
	d.opened = true
	d.mu.Unlock()
	go d.commit()
	return d, nil
}

// abandon closes pebble and its lock after a failed open, unless it is
// wedged.
func (d *Disk) abandon() {
	d.mu.Lock()
	wedged := d.wedged
	d.mu.Unlock()
	if wedged {
		return
	}
	var err error
	defer d.recoverFatal(&err)
	if d.db != nil {
		d.db.Close()
	}
	if d.lock != nil {
		d.lock.Close()
	}
}

// open makes the store's folder, takes its lock, makes an existing store
// private, then opens pebble and starts a fresh log. A failure of pebble's
// own background goroutines meanwhile (a compaction that finds damage) is
// its error too.
func (d *Disk) open() (err error) {
	defer d.recoverFatal(&err)
	fsys := privateFS{vfs.Default}
	if err := fsys.MkdirAll(d.dir, dirMode); err != nil {
		return fmt.Errorf("store: opening %s: %w", d.dir, err)
	}
	// The lock first, so that a store in use is left as it is.
	if d.lock, err = pebble.LockDirectory(d.dir, fsys); err != nil {
		return fmt.Errorf("store: opening %s: %w", d.dir, err)
	}
	switch msg, err := tighten(d.dir); {
	case err != nil:
		return fmt.Errorf("store: opening %s: %w", d.dir, err)
	case msg != "" && d.opts.Notice != nil:
		d.opts.Notice(msg)
	}
	po := &pebble.Options{
		FS:            fsys,
		Lock:          d.lock,
		Logger:        pebbleLogger{d},
		EventListener: &pebble.EventListener{DataCorruption: d.corrupted},
		// The format where the log records how far it was synced, so that
		// damage in its middle is told apart from the torn tail a crash
		// leaves (pebble drops the latter as never acknowledged), and
		// tables carry a checksum in their footer too. An older store is
		// moved up to it at open; pinned rather than pebble.FormatNewest, so
		// that a later pebble does not move stores on by itself.
		FormatMajorVersion: pebble.FormatTableFormatV6,
	}
	if d.opts.tune != nil {
		d.opts.tune(po)
	}
	db, err := pebble.Open(d.dir, po)
	if err != nil {
		return d.openError(err)
	}
	d.db = db
	// A flush starts a new log, which is written in the format above: the
	// log pebble opened with may predate it (a new store starts at an older
	// format and is moved up during Open).
	if err := d.await(db.Flush); err != nil {
		return d.openError(err)
	}
	return d.failure()
}

// openError names the directory and what kind of trouble err is.
func (d *Disk) openError(err error) error {
	if f := d.failure(); f != nil {
		return f // already named
	}
	switch {
	case pebble.IsCorruptionError(err):
		return fmt.Errorf("store: opening %s: %w: %w", d.dir, ErrDamaged, err)
	case errors.Is(err, syscall.ENOSPC):
		return noSpace(fmt.Sprintf("store: opening %s: %v", d.dir, err))
	}
	return fmt.Errorf("store: opening %s: %w", d.dir, err)
}

// await runs fn, a pebble call that waits for one of pebble's background
// goroutines, and returns its error, or the store's failure once a Fatalf
// has wedged pebble (fn then never returns, and its goroutine is left
// behind with pebble's).
func (d *Disk) await(fn func() error) error {
	result := make(chan error, 1)
	go func() {
		var err error
		defer func() { result <- err }()
		defer d.recoverFatal(&err)
		err = fn()
	}()
	select {
	case err := <-result:
		return err
	case <-d.wedge:
		return d.failure()
	}
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
	if err := d.failed; err != nil {
		d.mu.Unlock()
		if done != nil {
			d.answering.Lock() // after the writes fail answered
			done(err)
			d.answering.Unlock()
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
// and then calls the writes' done functions in order. It returns once the
// store is closed or has stopped.
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
		case <-d.stopped:
			return
		case <-tick:
			if d.dirty {
				d.syncLog()
			}
			continue
		}
		d.mu.Lock()
		if d.failed != nil {
			d.mu.Unlock()
			return
		}
		batch, d.pending = d.pending, batch[:0]
		d.inflight = batch
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

// space reports the free space on the store's filesystem (the nearest
// directory of dir that exists) and the reserve the store leaves; ok is
// false where the filesystem cannot say.
func (d *Disk) space() (avail, reserve uint64, ok bool) {
	dir := d.dir
	u, err := vfs.Default.GetDiskUsage(dir)
	for err != nil && filepath.Dir(dir) != dir {
		dir = filepath.Dir(dir)
		u, err = vfs.Default.GetDiskUsage(dir)
	}
	if err != nil {
		return 0, 0, false
	}
	reserve = d.opts.MinFree
	if reserve == 0 {
		reserve = min(64<<20, u.TotalBytes/10)
	}
	return u.AvailBytes, reserve, true
}

// full reports whether the filesystem has less free space than the store
// leaves. A filesystem that cannot say is taken as not full.
func (d *Disk) full() bool {
	avail, reserve, ok := d.space()
	return ok && avail < reserve
}

func (d *Disk) apply(writes []write) {
	var err error
	if d.full() {
		err = ErrDiskFull
	} else {
		err = d.commitBatch(writes)
	}
	d.answering.Lock()
	defer d.answering.Unlock()
	d.mu.Lock()
	answered := d.inflight == nil // by fail, meanwhile
	d.inflight = nil
	d.mu.Unlock()
	if answered {
		return
	}
	for _, w := range writes {
		if w.done != nil {
			w.done(err)
		}
	}
}

// commitBatch writes writes to pebble as one batch.
func (d *Disk) commitBatch(writes []write) (err error) {
	defer d.recoverFatal(&err)
	b := d.db.NewBatch()
	defer b.Close()
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
	return err
}

func (d *Disk) syncLog() {
	var err error
	defer d.recoverFatal(&err)
	if err = d.db.LogData(nil, pebble.Sync); err == nil {
		d.dirty = false
	}
}

// ErrDamaged wraps the corruption pebble found in the store: at open, in a
// Load, or while open (the error of every write after).
var ErrDamaged = errors.New("store: damaged")

// Load calls fn with every key and value in key order. Corruption pebble
// finds (a checksum that does not match) is an error wrapping ErrDamaged.
func (d *Disk) Load(fn func(key, value []byte) error) (err error) {
	d.mu.Lock()
	failed := d.failed
	d.loading++
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.loading--
		d.mu.Unlock()
	}()
	if failed != nil {
		return failed
	}
	if err := d.load(fn); err != nil {
		return cmp.Or(d.failure(), err)
	}
	return d.failure() // damage a compaction found meanwhile
}

func (d *Disk) load(fn func(key, value []byte) error) (err error) {
	defer d.recoverFatal(&err)
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
// closes the store. A store that stopped is closed as it is (not at all
// where pebble is wedged), and Close returns why it stopped.
func (d *Disk) Close() (err error) {
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
	select {
	case <-d.done:
	case <-d.wedge:
	}
	d.mu.Lock()
	failed, wedged := d.failed, d.wedged
	d.mu.Unlock()
	if wedged {
		return failed
	}
	defer d.recoverFatal(&err)
	var flushErr error
	if failed == nil {
		// Move everything from the log into checksummed table files, where
		// damage is always found; the log is what a crash leaves behind.
		flushErr = d.await(d.db.Flush)
	}
	d.mu.Lock()
	failed, wedged = d.failed, d.wedged
	d.mu.Unlock()
	if wedged { // by the flush
		return failed
	}
	return errors.Join(failed, flushErr, d.db.Close(), d.lock.Close())
}

// bytesText is n bytes for a person: 12 KiB, 6.4 MiB.
func bytesText(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// noSpace is an error that says msg and wraps ErrDiskFull.
type noSpace string

func (e noSpace) Error() string { return string(e) }
func (e noSpace) Unwrap() error { return ErrDiskFull }
