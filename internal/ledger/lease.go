package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Lease errors. Callers match them with errors.Is.
var (
	// ErrLeaseHeld: another holder has the lease and it has not expired.
	ErrLeaseHeld = errors.New("ledger: lease held by another holder")
	// ErrLeaseLost: the caller no longer holds the lease (it expired and was
	// taken over, or was released).
	ErrLeaseLost = errors.New("ledger: lease no longer held")
)

// Lease is a named, expiring, cross-process lock row (SPEC §8: one audit at
// a time across processes sharing a ledger). Times come from the ledger's
// clock (WithClock).
type Lease struct {
	Name       string
	Holder     string // opaque to the ledger; the daemon writes host, PID and a nonce
	AcquiredAt time.Time
	ExpiresAt  time.Time
}

// Expired reports whether the lease has expired at now.
func (l Lease) Expired(now time.Time) bool { return !now.Before(l.ExpiresAt) }

// AcquireLease takes the lease name for holder until now+ttl when it is
// free, expired, or already held by holder (then it is renewed). Otherwise
// it returns the current lease and an error matching ErrLeaseHeld.
func (d *DB) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (Lease, error) {
	return d.claimLease(ctx, "acquire lease", name, holder, ttl, func(cur Lease, now time.Time) bool {
		return cur.Holder == holder || cur.Expired(now)
	})
}

// TakeOverLease replaces the lease name held by stale with one held by
// holder, whether or not it expired: the caller has established that stale
// is dead (e.g. its process is gone). It is a compare-and-swap: when the
// lease is no longer stale's it returns the current lease and ErrLeaseHeld
// (unless it is free or expired, in which case holder gets it).
func (d *DB) TakeOverLease(ctx context.Context, name, holder, stale string, ttl time.Duration) (Lease, error) {
	return d.claimLease(ctx, "take over lease", name, holder, ttl, func(cur Lease, now time.Time) bool {
		return cur.Holder == stale || cur.Holder == holder || cur.Expired(now)
	})
}

func (d *DB) claimLease(ctx context.Context, op, name, holder string, ttl time.Duration, may func(Lease, time.Time) bool) (Lease, error) {
	if name == "" || holder == "" || ttl <= 0 {
		return Lease{}, fmt.Errorf("%s: %w: name, holder and a positive ttl are required", op, ErrInvalid)
	}
	var out Lease
	err := d.write(ctx, func(tx *sql.Tx) error {
		now := d.now()
		cur, err := leaseTx(ctx, tx, name)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		case !may(cur, now):
			out = cur
			return fmt.Errorf("%w: %s until %s", ErrLeaseHeld, cur.Holder, cur.ExpiresAt.Format(time.RFC3339))
		}
		acquired := now
		if err == nil && cur.Holder == holder {
			acquired = cur.AcquiredAt // a renewal keeps the original acquisition time
		}
		out = Lease{Name: name, Holder: holder, AcquiredAt: acquired, ExpiresAt: now.Add(ttl)}
		_, err = tx.ExecContext(ctx, `INSERT INTO lease (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
			name, holder, fmtTime(out.AcquiredAt), fmtTime(out.ExpiresAt))
		return err
	})
	if err != nil {
		return out, fmt.Errorf("%s %s: %w", op, name, err)
	}
	return out, nil
}

// RenewLease extends holder's lease name to now+ttl (the heartbeat). It
// fails with ErrLeaseLost when holder no longer holds it. A lease that
// expired but that nobody took over is still holder's and is renewed.
func (d *DB) RenewLease(ctx context.Context, name, holder string, ttl time.Duration) (Lease, error) {
	if ttl <= 0 {
		return Lease{}, fmt.Errorf("renew lease %s: %w: ttl must be positive", name, ErrInvalid)
	}
	var out Lease
	err := d.write(ctx, func(tx *sql.Tx) error {
		cur, err := leaseTx(ctx, tx, name)
		if errors.Is(err, ErrNotFound) || (err == nil && cur.Holder != holder) {
			return ErrLeaseLost
		}
		if err != nil {
			return err
		}
		cur.ExpiresAt = d.now().Add(ttl)
		out = cur
		_, err = tx.ExecContext(ctx, `UPDATE lease SET expires_at = ? WHERE name = ? AND holder = ?`,
			fmtTime(cur.ExpiresAt), name, holder)
		return err
	})
	if err != nil {
		return Lease{}, fmt.Errorf("renew lease %s: %w", name, err)
	}
	return out, nil
}

// ReleaseLease gives up holder's lease name. Releasing a lease that holder
// no longer holds is ErrLeaseLost and changes nothing.
func (d *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	err := d.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM lease WHERE name = ? AND holder = ?`, name, holder)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrLeaseLost
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}

// Lease returns the lease name as recorded (expired or not); ErrNotFound
// when nobody holds it.
func (d *DB) Lease(ctx context.Context, name string) (Lease, error) {
	var out Lease
	err := d.read(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = leaseTx(ctx, tx, name)
		return err
	})
	if err != nil {
		return Lease{}, fmt.Errorf("lease %s: %w", name, err)
	}
	return out, nil
}

func leaseTx(ctx context.Context, tx *sql.Tx, name string) (Lease, error) {
	var (
		l        Lease
		acq, exp string
	)
	err := tx.QueryRowContext(ctx, `SELECT name, holder, acquired_at, expires_at FROM lease WHERE name = ?`, name).
		Scan(&l.Name, &l.Holder, &acq, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return Lease{}, ErrNotFound
	}
	if err != nil {
		return Lease{}, err
	}
	if l.AcquiredAt, err = parseTime(acq); err != nil {
		return Lease{}, err
	}
	if l.ExpiresAt, err = parseTime(exp); err != nil {
		return Lease{}, err
	}
	return l, nil
}
