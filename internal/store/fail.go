package store

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
)

// How the store stops without taking the process down.
//
// Pebble reports two kinds of trouble besides the errors its calls return.
// Damage it finds in a table (a checksum that does not match) goes to
// EventListener.DataCorruption, from whichever goroutine read the block: a
// Load, or a flush or compaction in the background. That hook is meant to
// return: the read fails with a corruption error and pebble marks the span
// so that compactions leave it alone, its state consistent. The store
// records the damage and stops persisting (below), rather than calling
// Logger.Fatalf as pebble's default hook does.
//
// Errors pebble cannot go on after (a MANIFEST it cannot write, as on a
// full disk; a commit the log refused) go to Logger.Fatalf, which pebble
// expects not to return: the code after it does not unwind the reference
// counts and locks it holds. A panic there, on one of pebble's own
// goroutines, cannot be recovered and ends the process. So Fatalf looks at
// its own stack. Under a call of this package (OpenDisk, Load, apply,
// Close), each of which recovers, it panics as before and the call turns
// the panic into its error. On pebble's background goroutines it records
// the error and parks the goroutine for good (select {}): nothing after
// Fatalf runs, and the locks it holds stay held, so that pebble's other
// goroutines wait instead of going on over a state it gave up on (as
// runtime.Goexit would let them, by running its deferred unlocks). Pebble
// is then wedged, and the store never waits for it again: the writes in
// flight are answered with the error by fail, later ones by Write, and
// Close returns without closing pebble (the process is on its way out; the
// files are as the last good sync left them).

// fail stops persistence with err, once: the writes queued and in flight
// are answered with it, and so is every later Write. wedged says pebble
// cannot be called again (a Fatalf); after damage alone it can still be
// closed.
func (d *Disk) fail(err error, wedged bool) {
	d.answering.Lock()
	d.mu.Lock()
	first := d.failed == nil
	if first {
		d.failed = err
		close(d.stopped)
	}
	if wedged && !d.wedged {
		d.wedged = true
		close(d.wedge)
	}
	unanswered := make([]write, 0, len(d.inflight)+len(d.pending))
	unanswered = append(append(unanswered, d.inflight...), d.pending...)
	d.inflight, d.pending = nil, nil
	err = d.failed
	report := first && d.opened && d.loading == 0 && d.opts.Failed != nil
	d.mu.Unlock()
	for _, w := range unanswered {
		if w.done != nil {
			w.done(err)
		}
	}
	d.answering.Unlock()
	if report {
		d.opts.Failed(err)
	}
}

// failure is the error the store stopped with, or nil.
func (d *Disk) failure() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failed
}

// corrupted is the store's EventListener.DataCorruption.
func (d *Disk) corrupted(info pebble.DataCorruptionInfo) {
	// Not info's String: its details carry a stack trace.
	msg := fmt.Sprintf("%s: %v (keys %s)", info.Path, info.Details, info.Bounds)
	d.logf("on-disk corruption: %s", msg)
	d.fail(fmt.Errorf("%w: %s", ErrDamaged, msg), false)
}

// fatal is how Fatalf unwinds a call of this package; recoverFatal turns
// it back into an error.
type fatal struct{ err error }

// recoverFatal, deferred by each call of this package into pebble, turns a
// Fatalf (or any panic) into *err and stops the store with it.
func (d *Disk) recoverFatal(err *error) {
	r := recover()
	if r == nil {
		return
	}
	f, ok := r.(fatal)
	if !ok {
		f.err = fmt.Errorf("%w: %s: pebble: %v", ErrDamaged, d.dir, r)
	}
	*err = f.err
	d.fail(f.err, true)
}

// pebbleLogger is the store's pebble.Logger: messages go to
// DiskOptions.Logger, or nowhere; Fatalf is described above.
type pebbleLogger struct{ d *Disk }

func (l pebbleLogger) Infof(format string, args ...any)  { l.d.logf(format, args...) }
func (l pebbleLogger) Errorf(format string, args ...any) { l.d.logf(format, args...) }

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.d.logf(format, args...)
	err := l.d.fatalError(format, args)
	if underOwnCall() {
		panic(fatal{err})
	}
	l.d.fail(err, true)
	select {} // pebble's code after Fatalf assumes it does not return
}

func (d *Disk) logf(format string, args ...any) {
	if w := d.opts.Logger; w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// fatalError is what a Fatalf stops the store with: a full disk named as
// such (wrapping ErrDiskFull), anything else as damage (ErrDamaged).
func (d *Disk) fatalError(format string, args []any) error {
	msg := fmt.Sprintf(format, args...)
	for _, a := range args {
		if err, ok := a.(error); ok && errors.Is(err, syscall.ENOSPC) {
			return noSpace(fmt.Sprintf("store: %s: no space left on device: %s", d.dir, msg))
		}
	}
	return fmt.Errorf("%w: %s: %s", ErrDamaged, d.dir, msg)
}

// underOwnCall reports whether the calling goroutine is running a call of
// this package into pebble (which recovers), rather than one of pebble's
// background goroutines. The store's own hooks (the logger, corrupted) are
// not such calls.
func underOwnCall() bool {
	ownPrefix := strings.TrimSuffix(runtime.FuncForPC(reflect.ValueOf(OpenDisk).Pointer()).Name(), "OpenDisk")
	pcs := make([]uintptr, 256)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		f, more := frames.Next()
		if name, ok := strings.CutPrefix(f.Function, ownPrefix); ok &&
			!strings.HasPrefix(name, "pebbleLogger.") && !strings.HasPrefix(name, "(*Disk).corrupted") {
			return true
		}
		if !more {
			return false
		}
	}
}
