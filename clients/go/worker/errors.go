package worker

import (
	"errors"
	"fmt"
	"reflect"
	"time"
	"unicode"

	taskwirev1 "github.com/taskwire/taskwire/clients/go/gen/taskwire/v1"
)

type nonRetryable struct{ err error }

func (e *nonRetryable) Error() string { return e.err.Error() }
func (e *nonRetryable) Unwrap() error { return e.err }

// NonRetryable marks err so the run fails at once, whatever its retry policy.
func NonRetryable(err error) error {
	if err == nil {
		return nil
	}
	return &nonRetryable{err}
}

type retryAfter struct {
	err   error
	delay time.Duration
}

func (e *retryAfter) Error() string { return e.err.Error() }
func (e *retryAfter) Unwrap() error { return e.err }

// RetryAfter asks for the run to be retried after delay (within its retry budget).
func RetryAfter(delay time.Duration, err error) error {
	if err == nil {
		err = fmt.Errorf("retry after %s", delay)
	}
	return &retryAfter{err, delay}
}

type typed struct {
	typ string
	err error
}

func (e *typed) Error() string     { return e.err.Error() }
func (e *typed) Unwrap() error     { return e.err }
func (e *typed) ErrorType() string { return e.typ }

// WithType names the failure err becomes (Failure.type, matched by
// RetryOn / NeverRetryOn lists). Errors may also name themselves with a
// method ErrorType() string. Otherwise the type is the error's Go type name
// when exported ("PathError"), else "Error".
func WithType(name string, err error) error {
	if err == nil {
		return nil
	}
	return &typed{name, err}
}

// PanicError is what a task's panic becomes (type "Panic", retried by the policy).
type PanicError struct {
	Value any
	Stack string
}

func (e *PanicError) Error() string     { return fmt.Sprintf("panic: %v", e.Value) }
func (e *PanicError) ErrorType() string { return "Panic" }

func errorType(err error) string {
	var named interface{ ErrorType() string }
	if errors.As(err, &named) {
		if t := named.ErrorType(); t != "" {
			return t
		}
	}
	t := reflect.TypeOf(err)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && t.Name() != "" && unicode.IsUpper([]rune(t.Name())[0]) {
		return t.Name()
	}
	return "Error"
}

// failureOf turns a task's error into the recorded failure and its retry-after request.
func failureOf(err error) (*taskwirev1.Failure, *int64) {
	f := &taskwirev1.Failure{Type: errorType(err), Message: err.Error(), Retryable: true}
	var nr *nonRetryable
	if errors.As(err, &nr) {
		f.Retryable = false
	}
	var p *PanicError
	if errors.As(err, &p) {
		f.Stack = p.Stack
	}
	var ra *retryAfter
	if errors.As(err, &ra) {
		ms := ra.delay.Milliseconds()
		return f, &ms
	}
	return f, nil
}
