package taskwire

import (
	"context"
	"errors"
	"math"
	mathrand "math/rand/v2"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
)

// RetryableAbortedMessage is the message of the broker's one retryable
// ABORTED answer to Submit: two submits with the same idempotency key raced
// and the key's mapping changed under one of them. Repeating the call with
// the same key is safe; the client does it (see [CallRetry]).
const RetryableAbortedMessage = "idempotency key changed concurrently; retry the call"

// CallRetry says how the client retries a call that failed with a transient
// error (this is about calls to the broker, not the task's [RetryPolicy]).
//
// Retried: Submit on UNAVAILABLE, and on ABORTED with
// [RetryableAbortedMessage], always with the same request and so the same
// idempotency key or request id (a Submit with neither is never retried;
// see [WithRequestIDs]); GetStatus, ListRuns, Cancel and Retry on
// UNAVAILABLE. Nothing else: SubmitBatch, schedules and StreamEvents (which
// reconnects by cursor by itself) are not retried, and [Client.Wait] has its
// own loop.
//
// All attempts share the call's context: its deadline bounds them together,
// and no retry is started when its backoff would end past the deadline (the
// last error is returned, its Attempts field telling how many were made).
//
// The client retries by itself rather than through gRPC's retryPolicy
// service config because that one matches codes only (not the retryable
// ABORTED), stops retrying a request larger than its replay buffer (256 KiB
// by default; Submit accepts 512 KiB of args), allows at most 5 attempts,
// and does not apply to a connection passed to [NewClient].
type CallRetry struct {
	// MaxAttempts is the number of attempts in all, including the first.
	// 0 = default 5; 1 = no retries.
	MaxAttempts int
	// InitialBackoff is the wait before the second attempt. 0 = default 50ms.
	InitialBackoff time.Duration
	// MaxBackoff caps one wait (before jitter). 0 = default 1s.
	MaxBackoff time.Duration
	// BackoffMultiplier is the factor between consecutive waits (50ms,
	// 100ms, 200ms, 400ms, ...). 0 = default 2.0; at least 1.
	BackoffMultiplier float64
	// Jitter is the random spread of each wait, 0–1 (0.2 = ±20 %).
	// 0 = default 0.2; negative = none.
	Jitter float64
}

// DefaultCallRetry is the retry configuration of a client made without
// [WithCallRetry]: 5 attempts, backoff 50ms doubling up to 1s, ±20 % jitter.
var DefaultCallRetry = CallRetry{
	MaxAttempts:       5,
	InitialBackoff:    50 * time.Millisecond,
	MaxBackoff:        time.Second,
	BackoffMultiplier: 2,
	Jitter:            0.2,
}

// WithCallRetry sets how failed calls are retried; zero fields take the
// values of [DefaultCallRetry]. Default: DefaultCallRetry.
func WithCallRetry(r CallRetry) ClientOption {
	return func(c *clientConfig) { c.retry = r.normalized() }
}

// WithoutCallRetry turns the client's retries off (one attempt per call).
func WithoutCallRetry() ClientOption {
	return func(c *clientConfig) { c.retry = CallRetry{MaxAttempts: 1}.normalized() }
}

// WithRequestIDs says whether [Client.Submit] gives a submission without
// [WithIdempotencyKey] a request id (SubmitRequest.request_id: a UUIDv7
// made once per Submit call and sent again with each of its retries), so
// that its retries cannot create a second run. The broker makes the
// request id the run's id: it costs no extra write while this machine's
// clock is within 60 s of the broker's (one more KV write per Submit beyond
// that). Default: true. With false such submissions carry neither a key
// nor a request id and are not retried.
func WithRequestIDs(on bool) ClientOption {
	return func(c *clientConfig) { c.noRequestIDs = !on }
}

// WithAutoIdempotencyKeys is the former name of [WithRequestIDs], which it
// calls: a Submit without [WithIdempotencyKey] now carries a request id
// rather than a random idempotency key.
//
// Deprecated: use [WithRequestIDs].
func WithAutoIdempotencyKeys(on bool) ClientOption { return WithRequestIDs(on) }

// normalized fills zero fields from DefaultCallRetry and clamps the others.
func (r CallRetry) normalized() CallRetry {
	d := DefaultCallRetry
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = d.MaxAttempts
	}
	if r.InitialBackoff <= 0 {
		r.InitialBackoff = d.InitialBackoff
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = d.MaxBackoff
	}
	r.MaxBackoff = max(r.MaxBackoff, r.InitialBackoff)
	if r.BackoffMultiplier == 0 || math.IsNaN(r.BackoffMultiplier) {
		r.BackoffMultiplier = d.BackoffMultiplier
	}
	r.BackoffMultiplier = max(r.BackoffMultiplier, 1)
	switch {
	case r.Jitter == 0 || math.IsNaN(r.Jitter):
		r.Jitter = d.Jitter
	case r.Jitter < 0:
		r.Jitter = 0
	case r.Jitter > 1:
		r.Jitter = 1
	}
	return r
}

// backoff is the wait before retry number n (1 = the second attempt);
// rnd returns a number in [0, 1).
func (r CallRetry) backoff(n int, rnd func() float64) time.Duration {
	base := float64(r.InitialBackoff) * math.Pow(r.BackoffMultiplier, float64(max(0, n-1)))
	base = min(base, float64(r.MaxBackoff))
	return time.Duration(max(0, base*(1+r.Jitter*(2*rnd()-1))))
}

// retryOn tells which errors of a call are transient.
type retryOn func(*Error) bool

// retryUnavailable: GetStatus, ListRuns, Cancel, Retry.
func retryUnavailable(e *Error) bool { return e.Code == codes.Unavailable }

// retrySubmit: Submit with an idempotency key or a request id.
func retrySubmit(e *Error) bool {
	return e.Code == codes.Unavailable || e.Code == codes.Aborted && e.Message == RetryableAbortedMessage
}

// invoke makes one call, repeating it per c.retry while on says its error is
// transient (nil on: one attempt). Errors are converted with convertError.
func invoke[T any](ctx context.Context, c *Client, on retryOn, call func(context.Context) (T, error)) (T, error) {
	var zero T
	for attempt := 1; ; attempt++ {
		began := time.Now()
		resp, err := call(ctx)
		took := time.Since(began)
		if err == nil {
			return resp, nil
		}
		err = convertError(ctx, err)
		var te *Error
		if !errors.As(err, &te) {
			return zero, err
		}
		te.Attempts = attempt
		if on == nil || attempt >= c.retry.MaxAttempts || ctx.Err() != nil || !on(te) {
			return zero, err
		}
		wait := c.retry.backoff(attempt, mathrand.Float64)
		// No retry that could not end in time: after its backoff there must
		// be room for an attempt like this one (twice its time, at least
		// 10 ms), or the caller gets a deadline instead of the real error.
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait+max(2*took, 10*time.Millisecond) {
			return zero, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return zero, ctxError(ctx)
		}
	}
}

// newRequestID returns a new version 7 UUID (RFC 9562): 48 bits of Unix
// milliseconds, then a sub-millisecond sequence and random bits, so ids
// made by one process sort by time.
func newRequestID() string {
	// NewV7 fails only when crypto/rand does, which never returns an error
	// (it crashes the program instead).
	return uuid.Must(uuid.NewV7()).String()
}
