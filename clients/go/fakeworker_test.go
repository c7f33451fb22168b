package taskwire

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	taskwirev1 "github.com/taskwire/taskwire/clients/go/gen/taskwire/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// execute plays the conformance worker (examples/conformance/tasks.ts) for
// one run inside the fake broker, so the conformance runner itself can be
// tested without a live broker.
func (f *fakeBroker) execute(id string) {
	f.mu.Lock()
	run := f.runs[id]
	task, argsData := run.Task, run.Args.GetData()
	retry := run.GetOptions().GetRetry()
	timeout := time.Duration(run.GetOptions().GetTimeoutMs()) * time.Millisecond
	done := int32(len(run.Attempts)) // a retried run continues its attempt numbering
	f.mu.Unlock()
	var args []any
	json.Unmarshal(argsData, &args)
	args = append(args, nil, nil) // missing arguments read as null
	num := func(i int) float64 {
		if i < len(args) {
			v, _ := args[i].(float64)
			return v
		}
		return 0
	}
	for attempt := done + 1; ; attempt++ {
		if f.isCancelled(id) {
			return
		}
		time.Sleep(5 * time.Millisecond)
		f.transition(id, StateRunning, EventStarted, func(r *Run) {
			r.Attempt = attempt
			r.StartedAt = timestamppb.Now()
			r.Attempts = append(r.Attempts, &Attempt{Number: attempt, StartedAt: timestamppb.Now(), Outcome: 1})
		})
		var result any
		var failure *Failure
		timedOut := false
		// cf-sleep and cf-spin past the run's timeout: the attempt times out.
		if (task == "cf-sleep" || task == "cf-spin") && timeout > 0 && time.Duration(num(0))*time.Millisecond > timeout {
			time.Sleep(timeout)
			task, timedOut = "(timed out)", true
			failure = &Failure{Type: "TimeoutError", Message: "attempt exceeded its timeout", Retryable: true}
		}
		switch task {
		case "(timed out)":
		case "cf-echo":
			result = args[0]
		case "cf-add", "add":
			result = num(0) + num(1)
		case "cf-unicode":
			s, _ := args[0].(string)
			result = s + " ✓"
		case "cf-fail":
			msg, _ := args[0].(string)
			failure = &Failure{Type: "ConformanceError", Message: msg}
		case "cf-flaky":
			if float64(attempt) <= num(0) {
				failure = &Failure{Type: "FlakyError", Message: "flaky", Retryable: true}
			} else {
				result = attempt
			}
		case "cf-sleep":
			deadline := time.Now().Add(time.Duration(num(0)) * time.Millisecond)
			for time.Now().Before(deadline) && !f.isCancelled(id) {
				time.Sleep(10 * time.Millisecond)
			}
			result = num(0)
		case "cf-large":
			result = strings.Repeat("x", int(num(0)))
		case "cf-spin":
			time.Sleep(time.Duration(num(0)) * time.Millisecond)
			result = num(0)
		case "cf-log":
			n := int(num(0))
			for i := range n {
				f.transition(id, StateRunning, EventLog, func(r *Run) {
					r.Logs = append(r.Logs, &taskwirev1.LogLine{Level: "info", Message: "line " + strconv.Itoa(i), Attempt: attempt})
				})
			}
			f.transition(id, StateRunning, EventProgress, func(r *Run) { r.Progress = &taskwirev1.Progress{Fraction: 1} })
			result = n
		default:
			failure = &Failure{Type: "UnknownTask", Message: task}
		}
		if f.isCancelled(id) {
			return
		}
		if failure == nil {
			data, _ := json.Marshal(result)
			f.transition(id, StateCompleted, EventCompleted, func(r *Run) {
				r.Result = &Payload{ContentType: ContentTypeJSON, Data: data}
				r.Attempts[len(r.Attempts)-1].Outcome = 2
			})
			return
		}
		if !failure.Retryable || attempt > retry.GetMaxRetries() {
			event, outcome := EventFailed, taskwirev1.AttemptOutcome(3)
			if timedOut {
				event, outcome = EventTimedOut, 5
			}
			f.transition(id, StateFailed, event, func(r *Run) {
				r.Error = failure
				r.Attempts[len(r.Attempts)-1].Outcome = outcome
			})
			return
		}
		f.transition(id, StateAwaitingRetry, EventRetryScheduled, func(r *Run) {
			r.Attempts[len(r.Attempts)-1].Outcome = 3
		})
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fakeBroker) isCancelled(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runs[id].State == StateCancelled
}

// TestConformanceRunnerAgainstFake plays every scenario against the fake
// broker with the simulated worker: it checks the runner, not the broker.
func TestConformanceRunnerAgainstFake(t *testing.T) {
	env := startFake(t)
	env.fake.mu.Lock()
	env.fake.simulate = true
	env.fake.maxArgs = 1 << 20
	env.fake.mu.Unlock()
	runScenarios(t, env.client, loadScenarios(t, "fake"))
}
