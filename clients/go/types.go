package taskwire

import (
	taskwirev1 "github.com/taskwire/taskwire/clients/go/gen/taskwire/v1"
)

// Run is a run's record as returned by the broker (taskwire.v1.TaskRun):
// id, task, state, args, result or error, attempts, options, timestamps.
// Use the generated getters (run.GetId(), run.GetState(), ...), which are
// nil-safe.
type Run = taskwirev1.TaskRun

// Event is one change of one run (taskwire.v1.RunEvent): its type, the run's
// state after it, an ordered cursor and a snapshot of the run.
type Event = taskwirev1.RunEvent

// Payload is an opaque value with its media type (taskwire.v1.Payload). An
// empty content type means "application/json".
type Payload = taskwirev1.Payload

// Failure describes why an attempt or a run failed (taskwire.v1.Failure).
type Failure = taskwirev1.Failure

// Attempt is one execution attempt of a run (taskwire.v1.Attempt).
type Attempt = taskwirev1.Attempt

// RunState is the lifecycle state of a run (taskwire.v1.RunState).
type RunState = taskwirev1.RunState

// EventType names what changed in a run event (taskwire.v1.EventType). Its
// String method returns the full proto name, e.g. "EVENT_TYPE_STARTED".
type EventType = taskwirev1.EventType

// Run states. See the proto for their meaning.
const (
	// StateUnspecified is the zero value; the broker never reports it.
	StateUnspecified = taskwirev1.RunState_RUN_STATE_UNSPECIFIED
	// StateScheduled: due later (WithDelay / WithScheduledAt).
	StateScheduled = taskwirev1.RunState_RUN_STATE_SCHEDULED
	// StatePending: queued, waiting for a worker.
	StatePending = taskwirev1.RunState_RUN_STATE_PENDING
	// StateRunning: a worker is executing an attempt.
	StateRunning = taskwirev1.RunState_RUN_STATE_RUNNING
	// StateAwaitingRetry: an attempt failed; the next starts at next_attempt_at.
	StateAwaitingRetry = taskwirev1.RunState_RUN_STATE_AWAITING_RETRY
	// StateCompleted is terminal: the result is set.
	StateCompleted = taskwirev1.RunState_RUN_STATE_COMPLETED
	// StateFailed is terminal: the error is set.
	StateFailed = taskwirev1.RunState_RUN_STATE_FAILED
	// StateCancelled is terminal: cancelled before or while running.
	StateCancelled = taskwirev1.RunState_RUN_STATE_CANCELLED
)

// Event types (what the latest change of a run was). See the proto for
// their meaning.
const (
	// EventUnspecified is the zero value; the broker never sends it.
	EventUnspecified = taskwirev1.EventType_EVENT_TYPE_UNSPECIFIED
	// EventSubmitted: the run was accepted (PENDING or SCHEDULED).
	EventSubmitted = taskwirev1.EventType_EVENT_TYPE_SUBMITTED
	// EventStarted: a worker started an attempt.
	EventStarted = taskwirev1.EventType_EVENT_TYPE_STARTED
	// EventCompleted: the run completed with a result.
	EventCompleted = taskwirev1.EventType_EVENT_TYPE_COMPLETED
	// EventFailed: the run failed for good.
	EventFailed = taskwirev1.EventType_EVENT_TYPE_FAILED
	// EventRetryScheduled: an attempt failed and a retry is due later.
	EventRetryScheduled = taskwirev1.EventType_EVENT_TYPE_RETRY_SCHEDULED
	// EventCrashed: the worker stopped heartbeating; the run is redelivered.
	EventCrashed = taskwirev1.EventType_EVENT_TYPE_CRASHED
	// EventCancelRequested: cancellation of a running run was requested.
	EventCancelRequested = taskwirev1.EventType_EVENT_TYPE_CANCEL_REQUESTED
	// EventCancelled: the run was cancelled.
	EventCancelled = taskwirev1.EventType_EVENT_TYPE_CANCELLED
	// EventTimedOut: an attempt exceeded its timeout.
	EventTimedOut = taskwirev1.EventType_EVENT_TYPE_TIMED_OUT
	// EventCached: the run completed from the cache without executing.
	EventCached = taskwirev1.EventType_EVENT_TYPE_CACHED
	// EventProgress: the task reported progress (Run.progress).
	EventProgress = taskwirev1.EventType_EVENT_TYPE_PROGRESS
	// EventLog: the task logged a line (Event.log).
	EventLog = taskwirev1.EventType_EVENT_TYPE_LOG
	// EventExpired: the run was not started within its schedule-to-start timeout.
	EventExpired = taskwirev1.EventType_EVENT_TYPE_EXPIRED
	// EventReleased: a scheduled run became due and was queued (SCHEDULED → PENDING).
	EventReleased = taskwirev1.EventType_EVENT_TYPE_RELEASED
	// EventResubmitted: a FAILED or CANCELLED run was queued again by [Client.Retry].
	EventResubmitted = taskwirev1.EventType_EVENT_TYPE_RESUBMITTED
)

// IsTerminal reports whether s is a final state (COMPLETED, FAILED or
// CANCELLED): the run will not change any more.
func IsTerminal(s RunState) bool {
	switch s {
	case StateCompleted, StateFailed, StateCancelled:
		return true
	}
	return false
}

// ParseRunState parses a full proto enum name such as "RUN_STATE_COMPLETED".
// The second result is false for an unknown name.
func ParseRunState(name string) (RunState, bool) {
	v, ok := taskwirev1.RunState_value[name]
	return RunState(v), ok
}

// ParseEventType parses a full proto enum name such as "EVENT_TYPE_STARTED".
// The second result is false for an unknown name.
func ParseEventType(name string) (EventType, bool) {
	v, ok := taskwirev1.EventType_value[name]
	return EventType(v), ok
}
