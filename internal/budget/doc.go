// Package budget bounds the memory an audit run spends on what registries
// and transparency logs send it (issue 15): one byte budget that every
// worker of the run draws from before it holds a response body or a file
// of a summary bundle, and the size limit of every response body.
//
// A Budget is a FIFO weighted semaphore over bytes. Work that does not fit
// waits until earlier work releases what it held; it never fails for want
// of budget. A request larger than the whole budget waits until it can have
// all of it, so that one oversized item runs alone and is judged by its own
// size limits, never refused by the budget. Callers must not wait for more
// budget while they hold some (see Reservation.TryGrow): that is what keeps
// the budget free of deadlocks.
//
// Transport bounds the bodies of an http.RoundTripper's responses: a body
// larger than its limit fails with ErrTooLarge instead of being read into
// memory, and with a Budget each body holds its size (or, while unknown,
// its limit) from the response's headers until it is closed.
//
// budget imports no other package of this module.
package budget
