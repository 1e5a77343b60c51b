package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// LeaseName is the ledger lease row that guards audits.
const LeaseName = "audit"

// ErrBusy means another process (or another daemon in this one) is auditing
// the same ledger.
var ErrBusy = errors.New("daemon: another evidence-auditd is auditing this ledger")

// Holder identifies a lease holder: the process and the machine it runs on.
// Its String form is what the ledger's lease row stores.
type Holder struct {
	Host   string // hostname
	BootID string // kernel boot id; tells apart two machines with the same hostname
	PIDNS  string // PID namespace; a PID means nothing outside it
	PID    int
	Nonce  string // tells apart two lockers in one process
}

// LocalHolder describes this process, with a fresh nonce.
func LocalHolder() Holder {
	h := Holder{PID: os.Getpid()}
	h.Host, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		h.BootID = strings.TrimSpace(string(b))
	}
	if ns, err := os.Readlink("/proc/self/ns/pid"); err == nil {
		h.PIDNS = strings.TrimSuffix(strings.TrimPrefix(ns, "pid:["), "]")
	}
	var n [6]byte
	_, _ = rand.Read(n[:])
	h.Nonce = hex.EncodeToString(n[:])
	return h
}

// String renders the holder as space-separated key=value fields.
func (h Holder) String() string {
	return fmt.Sprintf("host=%s boot=%s pidns=%s pid=%d nonce=%s", h.Host, h.BootID, h.PIDNS, h.PID, h.Nonce)
}

// ParseHolder reverses String; unknown fields are ignored.
func ParseHolder(s string) Holder {
	var h Holder
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "host":
			h.Host = v
		case "boot":
			h.BootID = v
		case "pidns":
			h.PIDNS = v
		case "pid":
			h.PID, _ = strconv.Atoi(v)
		case "nonce":
			h.Nonce = v
		}
	}
	return h
}

// sameKernel reports whether h runs on this machine's kernel, in this PID
// namespace, so that its PID can be checked here.
func (h Holder) sameKernel(me Holder) bool {
	return h.Host == me.Host && h.BootID != "" && h.BootID == me.BootID && h.PIDNS != "" && h.PIDNS == me.PIDNS
}

// processGone reports whether pid certainly does not exist.
func processGone(pid int) bool {
	if pid <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// LeaseLedger is what the lock needs from the ledger; *ledger.DB satisfies it.
type LeaseLedger interface {
	Path() string
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (ledger.Lease, error)
	TakeOverLease(ctx context.Context, name, holder, stale string, ttl time.Duration) (ledger.Lease, error)
	RenewLease(ctx context.Context, name, holder string, ttl time.Duration) (ledger.Lease, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Lock is the cross-process audit lock on one ledger: an advisory flock on
// <ledger>.lock (released by the kernel when the process dies; works between
// processes, and between Locks in one process, on one machine) and the
// ledger's lease row (visible to every process that shares the ledger, with
// an expiry for holders that died elsewhere).
type Lock struct {
	Ledger LeaseLedger
	Clock  Clock
	Holder Holder
	// TTL is the lease's lifetime without a heartbeat; default 2m. The
	// heartbeat renews it every TTL/4.
	TTL time.Duration
}

func (l *Lock) ttl() time.Duration {
	if l.TTL > 0 {
		return l.TTL
	}
	return 2 * time.Minute
}

// BusyError is ErrBusy with the lease that stands in the way, when known.
type BusyError struct {
	Lease ledger.Lease // zero when only the file lock is held
}

func (e *BusyError) Error() string {
	if e.Lease.Holder == "" {
		return ErrBusy.Error() + " (file lock held by a process on this machine)"
	}
	return fmt.Sprintf("%v (lease held by %s until %s)", ErrBusy, e.Lease.Holder, e.Lease.ExpiresAt.Format(time.RFC3339))
}

func (e *BusyError) Unwrap() error { return ErrBusy }

// Held is an acquired Lock. Lost is closed when the lease could not be
// renewed before it expired or was taken over: the audit must stop.
type Held struct {
	l      *Lock
	holder string
	file   *os.File
	lost   chan struct{}
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

// TryAcquire takes the lock without waiting. It returns a *BusyError
// (matching ErrBusy) when another holder has it. A lease left by a dead
// process on this machine is taken over at once; other leases when expired.
func (l *Lock) TryAcquire(ctx context.Context) (*Held, error) {
	path := l.Ledger.Path() + ".lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &BusyError{}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	me := l.Holder.String()
	cur, err := l.Ledger.AcquireLease(ctx, LeaseName, me, l.ttl())
	if errors.Is(err, ledger.ErrLeaseHeld) {
		if h := ParseHolder(cur.Holder); h.sameKernel(l.Holder) && processGone(h.PID) {
			_, err = l.Ledger.TakeOverLease(ctx, LeaseName, me, cur.Holder, l.ttl())
		}
	}
	if err != nil {
		unlock(f)
		if errors.Is(err, ledger.ErrLeaseHeld) {
			return nil, &BusyError{Lease: cur}
		}
		return nil, err
	}
	h := &Held{l: l, holder: me, file: f, lost: make(chan struct{}), stop: make(chan struct{})}
	h.wg.Add(1)
	go h.heartbeat()
	return h, nil
}

// Acquire takes the lock, waiting for it: while another holder has it, it
// retries every retry (default 15s) on the Lock's clock — and at once when
// a holder on this machine releases the lock file — and calls onBusy (when
// set) once, with the first *BusyError, so the caller can say whom it
// waits for. It returns ctx's error when ctx ends first, and any error that
// is not ErrBusy at once.
func (l *Lock) Acquire(ctx context.Context, retry time.Duration, onBusy func(error)) (*Held, error) {
	if retry <= 0 {
		retry = 15 * time.Second
	}
	told := false
	var freed <-chan struct{} // closed once the lock file was free again
	for {
		held, err := l.TryAcquire(ctx)
		if err == nil {
			return held, nil
		}
		var busy *BusyError
		if !errors.As(err, &busy) {
			return nil, err
		}
		if !told && onBusy != nil {
			onBusy(err)
		}
		told = true
		if freed == nil && busy.Lease.Holder == "" {
			// Held by a process on this machine: its release frees the
			// file, so a waiter need not sleep a whole retry period.
			freed = whenFileFree(l.Ledger.Path() + ".lock")
		}
		t := l.Clock.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C():
		case <-freed:
			t.Stop()
			freed = nil
		}
	}
}

// whenFileFree returns a channel closed once this process could take the
// lock file at path (whoever held it let go); it lets go of it at once. A
// nil channel (never ready) when the file cannot be opened. The goroutine
// behind it ends only when the file is free: one per wait, not per retry.
func whenFileFree(path string) <-chan struct{} {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil
	}
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		defer f.Close()
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX) == nil {
			_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		}
	}()
	return ch
}

func unlock(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	f.Close()
}

// heartbeat renews the lease every TTL/4 until Release; it closes lost when
// the lease was taken over or could not be renewed before it expired.
func (h *Held) heartbeat() {
	defer h.wg.Done()
	ttl := h.l.ttl()
	expires := h.l.Clock.Now().Add(ttl)
	for {
		t := h.l.Clock.NewTimer(ttl / 4)
		select {
		case <-h.stop:
			t.Stop()
			return
		case <-t.C():
		}
		ctx, cancel := context.WithTimeout(context.Background(), ttl/4)
		l, err := h.l.Ledger.RenewLease(ctx, LeaseName, h.holder, ttl)
		cancel()
		switch {
		case err == nil:
			expires = l.ExpiresAt
		case errors.Is(err, ledger.ErrLeaseLost) || !h.l.Clock.Now().Before(expires):
			close(h.lost)
			return
		}
		// Other errors (a busy ledger) are retried at the next beat while
		// the lease has not expired.
	}
}

// Lost is closed when the lock was lost while held.
func (h *Held) Lost() <-chan struct{} { return h.lost }

// Release stops the heartbeat, deletes the lease row and unlocks the file.
// It is safe to call more than once.
func (h *Held) Release(ctx context.Context) error {
	var err error
	h.once.Do(func() {
		close(h.stop)
		h.wg.Wait()
		if e := h.l.Ledger.ReleaseLease(ctx, LeaseName, h.holder); e != nil && !errors.Is(e, ledger.ErrLeaseLost) {
			err = e
		}
		unlock(h.file)
	})
	return err
}
