package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	taskwirev1 "github.com/taskwire/taskwire/clients/go/gen/taskwire/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

type stopKind int

const (
	kindNone stopKind = iota
	kindTimeout
	kindCancel
)

// attempt is one assigned attempt, from its assignment to the report of its end.
type attempt struct {
	a      *taskwirev1.RunAssignment
	cancel context.CancelCauseFunc
	// release frees the attempt's timers once it is reported.
	release func()
	// timed is the attempt's context with its deadline (nil without a timeout).
	timed   context.Context
	timeout string

	mu     sync.Mutex
	kind   stopKind
	reason string
	// gaveUp closes abortGrace after a stop: the attempt is reported even if its function goes on.
	gaveUp chan struct{}
}

// stop aborts the attempt (its ctx is cancelled) once; the first reason wins.
func (a *attempt) stop(kind stopKind, reason string) {
	a.mu.Lock()
	if a.kind != kindNone {
		a.mu.Unlock()
		return
	}
	a.kind, a.reason = kind, reason
	a.mu.Unlock()
	a.cancel(errors.New(reason))
	time.AfterFunc(abortGrace, func() { close(a.gaveUp) })
}

// stopped says whether and why the attempt was stopped. A function that
// returned because its deadline passed may beat the timer that records the
// timeout: the deadline counts as the stop then.
func (a *attempt) stopped() (stopKind, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.kind == kindNone && a.timed != nil && errors.Is(a.timed.Err(), context.DeadlineExceeded) {
		a.kind, a.reason = kindTimeout, a.timeout
	}
	return a.kind, a.reason
}

type invoked struct {
	result *taskwirev1.Payload
	err    error
}

// assigned starts an attempt the broker assigned.
func (w *Worker) assigned(runCtx context.Context, as *taskwirev1.RunAssignment, cfg *config) {
	w.mu.Lock()
	t := w.tasks[as.GetTask()]
	w.mu.Unlock()
	finished := &taskwirev1.AttemptFinished{RunId: as.GetRunId(), Attempt: as.GetAttempt()}
	if t == nil {
		finished.Outcome = failureOutcome(NonRetryable(WithType("UnknownTask", fmt.Errorf("this worker does not serve task %q", as.GetTask()))))
		w.report(finished)
		return
	}
	actx, cancel := context.WithCancelCause(runCtx)
	a := &attempt{a: as, cancel: cancel, gaveUp: make(chan struct{}), release: func() {}}
	var deadline time.Time
	if as.GetTimeoutMs() > 0 {
		deadline = time.Now().Add(time.Duration(as.GetTimeoutMs()) * time.Millisecond)
		if as.GetDeadline() != nil {
			deadline = as.GetDeadline().AsTime()
		}
		var cancelDeadline context.CancelFunc
		actx, cancelDeadline = context.WithDeadline(actx, deadline)
		msg := fmt.Sprintf("attempt exceeded its timeout of %d ms", as.GetTimeoutMs())
		timed := actx
		a.timed, a.timeout = timed, msg
		stopTimer := context.AfterFunc(timed, func() {
			if errors.Is(timed.Err(), context.DeadlineExceeded) {
				a.stop(kindTimeout, msg)
			}
		})
		a.release = func() {
			stopTimer()
			cancelDeadline()
		}
	}
	info := RunInfo{RunID: as.GetRunId(), Task: as.GetTask(), Attempt: int(as.GetAttempt()), Deadline: deadline, Queue: as.GetQueue(), Namespace: as.GetNamespace(), Labels: as.GetLabels()}
	runID, n := as.GetRunId(), as.GetAttempt()
	ac := &attemptCtx{
		info: info,
		base: cfg.logger,
		log: func(level, msg string) {
			if len(msg) > 4096 {
				msg = msg[:4096]
			}
			w.send(&taskwirev1.ConnectRequest{Kind: &taskwirev1.ConnectRequest_Log{Log: &taskwirev1.AttemptLog{RunId: runID, Attempt: n, Level: level, Message: msg, Time: timestamppb.Now()}}})
		},
		progress: func(fraction float64, message string) {
			if len(message) > 1024 {
				message = message[:1024]
			}
			w.send(&taskwirev1.ConnectRequest{Kind: &taskwirev1.ConnectRequest_Progress{Progress: &taskwirev1.AttemptProgress{RunId: runID, Attempt: n, Fraction: fraction, Message: message}}})
		},
	}
	vctx := context.WithValue(actx, runKey{}, ac)
	w.mu.Lock()
	w.attempts[runID] = a
	w.started++
	w.mu.Unlock()
	go w.execute(vctx, a, t, finished)
}

func (w *Worker) execute(ctx context.Context, a *attempt, t *task, finished *taskwirev1.AttemptFinished) {
	defer func() {
		a.release()
		a.cancel(context.Canceled)
	}()
	done := make(chan invoked, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- invoked{err: &PanicError{Value: p, Stack: string(debug.Stack())}}
			}
		}()
		res, err := t.invoke(ctx, a.a.GetArgs())
		done <- invoked{res, err}
	}()
	var out invoked
	abandoned := false
	select {
	case out = <-done:
	case <-a.gaveUp:
		abandoned = true
	}
	if abandoned {
		// It ignored its ctx: reported now; its goroutine is not waited for.
		select {
		case out = <-done:
			abandoned = false
		default:
		}
	}
	// A function that returns after a stop reports the stop, whatever it returned.
	switch kind, reason := a.stopped(); kind {
	case kindTimeout:
		finished.Outcome = &taskwirev1.AttemptFinished_TimedOut{TimedOut: &taskwirev1.AttemptTimedOut{}}
	case kindCancel:
		finished.Outcome = &taskwirev1.AttemptFinished_Cancelled{Cancelled: &taskwirev1.AttemptCancelled{Reason: reason}}
	default:
		switch {
		case out.err != nil:
			finished.Outcome = failureOutcome(out.err)
		case int64(len(out.result.GetData())) > w.maxResult():
			finished.Outcome = failureOutcome(NonRetryable(WithType("ResultTooLarge", fmt.Errorf("result is %d bytes, over the broker's limit of %d; store large results elsewhere and return a reference", len(out.result.GetData()), w.maxResult()))))
		default:
			finished.Outcome = &taskwirev1.AttemptFinished_Result{Result: out.result}
		}
	}
	w.report(finished)
}

func failureOutcome(err error) *taskwirev1.AttemptFinished_Failure {
	f, after := failureOf(err)
	return &taskwirev1.AttemptFinished_Failure{Failure: &taskwirev1.AttemptFailure{Failure: f, RetryAfterMs: after}}
}
