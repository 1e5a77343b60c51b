package job

import "errors"

// UsageError marks a failure the operator fixes by changing the command
// line or the configuration (exit 2): an unknown repository path or ref, a
// --only naming no recipe, an unusable issue sink. Its message is the
// wrapped error's.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usage wraps err as a UsageError (nil stays nil).
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{Err: err}
}

// IsUsage reports whether err is, or wraps, a UsageError.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}
