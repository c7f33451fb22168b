package taskwire

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error is an error returned by the broker (or by gRPC on the way to it).
// It carries the gRPC status: status.Code(err) and status.FromError(err)
// work on it (and on errors wrapping it), and errors.Is matches it against
// the code sentinels below, e.g. errors.Is(err, taskwire.ErrNotFound).
//
// When the call failed because its context was cancelled or timed out,
// the Error also unwraps to context.Canceled or context.DeadlineExceeded.
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Message is the status message; for INVALID_ARGUMENT the broker names
	// the offending field in it.
	Message string
	// Attempts is how many attempts the client made before returning this
	// error: more than 1 when it retried the call (see [CallRetry]).
	Attempts int

	st    *status.Status
	cause error
}

// Error implements error: "taskwire: <Code>: <Message>".
func (e *Error) Error() string {
	if e.Message == "" {
		return "taskwire: " + e.Code.String()
	}
	return "taskwire: " + e.Code.String() + ": " + e.Message
}

// GRPCStatus returns the gRPC status, so that status.Code(err) and
// status.FromError(err) see the broker's code, message and details.
func (e *Error) GRPCStatus() *status.Status {
	if e.st != nil {
		return e.st
	}
	return status.New(e.Code, e.Message)
}

// Is reports whether target is the code sentinel for e.Code (ErrNotFound
// for codes.NotFound, ...).
func (e *Error) Is(target error) bool {
	var s *codeSentinel
	if errors.As(target, &s) {
		return s.code == e.Code
	}
	return false
}

// Retryable reports whether repeating the same call may succeed: code
// UNAVAILABLE, or ABORTED with [RetryableAbortedMessage]. The client has
// already retried such a call Attempts times. Repeat a Submit only with the
// same idempotency key, so that it cannot create a second run.
func (e *Error) Retryable() bool { return retrySubmit(e) }

// Unwrap returns the context error that caused the call to fail, if any.
func (e *Error) Unwrap() error { return e.cause }

// codeSentinel is the type of the ErrXxx code sentinels.
type codeSentinel struct {
	code codes.Code
	text string
}

func (s *codeSentinel) Error() string { return s.text }

// GRPCStatus makes status.Code(ErrNotFound) == codes.NotFound.
func (s *codeSentinel) GRPCStatus() *status.Status { return status.New(s.code, s.text) }

func sentinel(c codes.Code) error {
	return &codeSentinel{code: c, text: "taskwire: " + c.String()}
}

// Sentinels for the gRPC codes the broker uses. errors.Is(err, ErrX) is true
// for an [*Error] with the matching code. See the TaskService documentation.
var (
	// ErrInvalidArgument: bad input; the message names the field.
	ErrInvalidArgument = sentinel(codes.InvalidArgument)
	// ErrNotFound: unknown run.
	ErrNotFound = sentinel(codes.NotFound)
	// ErrFailedPrecondition: e.g. cancelling a completed or failed run.
	ErrFailedPrecondition = sentinel(codes.FailedPrecondition)
	// ErrResourceExhausted: payload over the broker's limit.
	ErrResourceExhausted = sentinel(codes.ResourceExhausted)
	// ErrUnavailable: broker or NATS unreachable (still, after the client's
	// retries; see [CallRetry]); safe to retry a Submit that has an
	// idempotency key.
	ErrUnavailable = sentinel(codes.Unavailable)
	// ErrUnauthenticated: missing or invalid credentials.
	ErrUnauthenticated = sentinel(codes.Unauthenticated)
	// ErrPermissionDenied: the credentials do not allow the call.
	ErrPermissionDenied = sentinel(codes.PermissionDenied)
	// ErrDeadlineExceeded: the call's deadline passed.
	ErrDeadlineExceeded = sentinel(codes.DeadlineExceeded)
	// ErrCanceled: the call was cancelled (usually its context).
	ErrCanceled = sentinel(codes.Canceled)
	// ErrInternal: a broker bug.
	ErrInternal = sentinel(codes.Internal)
	// ErrUnimplemented: the broker does not implement the method.
	ErrUnimplemented = sentinel(codes.Unimplemented)
)

// Sentinels about a run's outcome, returned by [ResultInto] and
// [DecodeResult] (wrapped in a [*RunError]).
var (
	// ErrRunFailed: the run ended in state FAILED.
	ErrRunFailed = errors.New("taskwire: run failed")
	// ErrRunCancelled: the run ended in state CANCELLED.
	ErrRunCancelled = errors.New("taskwire: run cancelled")
	// ErrRunNotFinished: the run is not terminal yet, so it has no result.
	ErrRunNotFinished = errors.New("taskwire: run not finished")
)

// RunError reports that a run did not complete: it failed, was cancelled, or
// is not finished yet. errors.Is matches it against [ErrRunFailed],
// [ErrRunCancelled] or [ErrRunNotFinished] according to the run's state.
type RunError struct {
	// Run is the run's record.
	Run *Run
}

// Failure returns the run's failure (type, message, stack), or nil.
func (e *RunError) Failure() *Failure { return e.Run.GetError() }

// Error implements error, e.g. "taskwire: run 0190... (add) failed: TypeError: boom".
func (e *RunError) Error() string {
	r := e.Run
	var what string
	switch r.GetState() {
	case StateFailed:
		what = "failed"
	case StateCancelled:
		what = "was cancelled"
	default:
		what = "is not finished (state " + r.GetState().String() + ")"
	}
	msg := fmt.Sprintf("taskwire: run %s (%s) %s", r.GetId(), r.GetTask(), what)
	if f := r.GetError(); f != nil && (f.GetType() != "" || f.GetMessage() != "") {
		switch {
		case f.GetType() == "":
			msg += ": " + f.GetMessage()
		case f.GetMessage() == "":
			msg += ": " + f.GetType()
		default:
			msg += ": " + f.GetType() + ": " + f.GetMessage()
		}
	}
	return msg
}

// Is matches the sentinel for the run's state.
func (e *RunError) Is(target error) bool {
	switch e.Run.GetState() {
	case StateFailed:
		return target == ErrRunFailed
	case StateCancelled:
		return target == ErrRunCancelled
	default:
		return !IsTerminal(e.Run.GetState()) && target == ErrRunNotFinished
	}
}

// convertError turns an error from a gRPC call into an [*Error]. Errors
// without a gRPC status are returned unchanged; nil stays nil. ctx is the
// call's context: when it is done, the Error unwraps to ctx.Err().
func convertError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var te *Error
	if errors.As(err, &te) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &Error{Code: st.Code(), Message: st.Message(), Attempts: 1, st: st}
	if ctx != nil {
		switch {
		case ctx.Err() != nil && (e.Code == codes.Canceled || e.Code == codes.DeadlineExceeded):
			e.cause = ctx.Err()
		case e.Code == codes.DeadlineExceeded:
			// gRPC's own deadline timer can fire before the context's.
			if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
				e.cause = context.DeadlineExceeded
			}
		}
	}
	return e
}

// ctxError converts a bare context error (from a wait between calls) into
// an [*Error] with the matching gRPC code.
func ctxError(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	return convertError(ctx, status.FromContextError(err).Err())
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
