package taskwire

import (
	"context"
	"errors"
	"iter"
	"time"

	taskwirev1 "github.com/taskwire/taskwire/clients/go/gen/taskwire/v1"
)

// StatusOption configures [Client.GetStatus].
type StatusOption func(*taskwirev1.GetStatusRequest)

// WithWaitTimeout makes GetStatus first wait up to d for the run to become
// terminal (long poll). Sent in whole milliseconds, rounded up; the broker
// allows at most 5 minutes and rejects negative values. Default 0 = answer
// at once.
func WithWaitTimeout(d time.Duration) StatusOption {
	return func(r *taskwirev1.GetStatusRequest) { r.WaitTimeoutMs = durationMs(d) }
}

// GetStatus returns the run's record; UNAVAILABLE is retried (see
// [CallRetry]). Errors: ErrNotFound for an unknown run, ErrInvalidArgument
// for a malformed id.
func (c *Client) GetStatus(ctx context.Context, runID string, opts ...StatusOption) (*Run, error) {
	return c.getStatus(ctx, runID, retryUnavailable, opts...)
}

func (c *Client) getStatus(ctx context.Context, runID string, on retryOn, opts ...StatusOption) (*Run, error) {
	req := &taskwirev1.GetStatusRequest{RunId: runID}
	for _, o := range opts {
		o(req)
	}
	resp, err := invoke(ctx, c, on, func(ctx context.Context) (*taskwirev1.GetStatusResponse, error) {
		return c.api.GetStatus(ctx, req)
	})
	if err != nil {
		return nil, err
	}
	return resp.GetRun(), nil
}

// MaxWaitTimeout is the longest wait the broker accepts for one GetStatus
// call (wait_timeout_ms ≤ 300000).
const MaxWaitTimeout = 5 * time.Minute

// waitPoll is the wait_timeout of each GetStatus call made by Wait.
var waitPoll = 30 * time.Second

// Wait blocks until the run is terminal (COMPLETED, FAILED or CANCELLED)
// and returns its final record; a failed or cancelled run is not an error
// here (use [ResultInto] / [DecodeResult], which report it). It long-polls
// GetStatus with a wait timeout of up to 30 s per call, retries
// ErrUnavailable with backoff (its own loop, 100ms doubling up to 2s, for as
// long as ctx allows, whatever [CallRetry] says), and stops with ctx: set a
// deadline on ctx to bound the wait (the error then matches
// context.DeadlineExceeded).
func (c *Client) Wait(ctx context.Context, runID string) (*Run, error) {
	backoff := newBackoff(100*time.Millisecond, 2*time.Second)
	for {
		wait := waitPoll
		if dl, ok := ctx.Deadline(); ok {
			// Let the broker answer just before our deadline instead of the
			// call being cut off.
			if left := time.Until(dl) - 50*time.Millisecond; left < wait {
				wait = max(left, time.Millisecond)
			}
		}
		start := time.Now()
		run, err := c.getStatus(ctx, runID, nil, WithWaitTimeout(wait)) // this loop retries
		switch {
		case err == nil && IsTerminal(run.GetState()):
			return run, nil
		case err == nil:
			// Not terminal. A broker that honours wait_timeout_ms returns
			// after about `wait`; guard against one answering at once.
			if time.Since(start) >= wait/2 {
				backoff.reset()
				continue
			}
		case errors.Is(err, ErrUnavailable) && ctx.Err() == nil:
			// Transient: GetStatus is read-only, so retry.
		default:
			return nil, err
		}
		if err := backoff.sleep(ctx); err != nil {
			return nil, err
		}
	}
}

// CancelOption configures [Client.Cancel].
type CancelOption func(*taskwirev1.CancelRequest)

// WithCancelReason records free text in the cancelled run's failure
// message. Default: none.
func WithCancelReason(reason string) CancelOption {
	return func(r *taskwirev1.CancelRequest) { r.Reason = reason }
}

// Cancel cancels a run and returns its record. A scheduled or pending run
// never starts; a running run has its AbortSignal fired and becomes
// CANCELLED when the worker stops (use [Client.Wait]). Cancelling a
// cancelled run is a no-op. Errors: ErrFailedPrecondition when the run is
// already COMPLETED or FAILED, ErrNotFound for an unknown run. UNAVAILABLE
// is retried (see [CallRetry]); a repeated cancel is a no-op.
func (c *Client) Cancel(ctx context.Context, runID string, opts ...CancelOption) (*Run, error) {
	req := &taskwirev1.CancelRequest{RunId: runID}
	for _, o := range opts {
		o(req)
	}
	resp, err := invoke(ctx, c, retryUnavailable, func(ctx context.Context) (*taskwirev1.CancelResponse, error) {
		return c.api.Cancel(ctx, req)
	})
	if err != nil {
		return nil, err
	}
	return resp.GetRun(), nil
}

// Retry queues a FAILED or CANCELLED run again as a new attempt of the same
// run (same id, attempt history kept; one attempt, the retry policy's budget
// is not replenished). Dead letters are [Client.ListRuns] with States
// [StateFailed]. Any other state is FAILED_PRECONDITION ([ErrFailedPrecondition]).
// UNAVAILABLE is retried (see [CallRetry]); when an earlier attempt went
// through but its answer was lost, the next one fails with
// FAILED_PRECONDITION (the run is queued again): check the run's state.
func (c *Client) Retry(ctx context.Context, runID string) (*Run, error) {
	req := &taskwirev1.RetryRequest{RunId: runID}
	resp, err := invoke(ctx, c, retryUnavailable, func(ctx context.Context) (*taskwirev1.RetryResponse, error) {
		return c.api.Retry(ctx, req)
	})
	if err != nil {
		return nil, err
	}
	return resp.GetRun(), nil
}

// ListFilter selects and pages runs for [Client.ListRuns]. The zero value
// lists all runs, newest first, 50 per page.
type ListFilter struct {
	// Task keeps only runs of this task (empty: all tasks).
	Task string
	// States keeps only runs in these states (empty: all states).
	States []RunState
	// Queue keeps only runs of this queue (empty: all queues).
	Queue string
	// PageSize is the number of runs per page, 1–1000; 0 = default 50.
	PageSize int
	// PageToken is RunPage.NextPageToken of the previous page (empty: the
	// first page).
	PageToken string
}

// RunPage is one page of [Client.ListRuns].
type RunPage struct {
	// Runs, newest first.
	Runs []*Run
	// NextPageToken fetches the next page via ListFilter.PageToken; empty
	// on the last page.
	NextPageToken string
}

// ListRuns returns one page of runs, newest first (run ids are
// time-ordered). UNAVAILABLE is retried (see [CallRetry]).
func (c *Client) ListRuns(ctx context.Context, filter ListFilter) (*RunPage, error) {
	req := &taskwirev1.ListRunsRequest{
		Task:      filter.Task,
		States:    append([]RunState(nil), filter.States...),
		PageSize:  int32(filter.PageSize),
		PageToken: filter.PageToken,
		Queue:     filter.Queue,
	}
	resp, err := invoke(ctx, c, retryUnavailable, func(ctx context.Context) (*taskwirev1.ListRunsResponse, error) {
		return c.api.ListRuns(ctx, req)
	})
	if err != nil {
		return nil, err
	}
	return &RunPage{Runs: resp.GetRuns(), NextPageToken: resp.GetNextPageToken()}, nil
}

// AllRuns iterates over every run matching filter, newest first, fetching
// pages of filter.PageSize on demand, starting at filter.PageToken. An error
// is yielded once, as the last element.
//
//	for run, err := range client.AllRuns(ctx, taskwire.ListFilter{Task: "add"}) {
//		if err != nil { return err }
//		fmt.Println(run.GetId(), run.GetState())
//	}
func (c *Client) AllRuns(ctx context.Context, filter ListFilter) iter.Seq2[*Run, error] {
	return func(yield func(*Run, error) bool) {
		for {
			page, err := c.ListRuns(ctx, filter)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, r := range page.Runs {
				if !yield(r, nil) {
					return
				}
			}
			if page.NextPageToken == "" || page.NextPageToken == filter.PageToken {
				return
			}
			filter.PageToken = page.NextPageToken
		}
	}
}

// backoff is an exponential delay for retries.
type backoff struct {
	initial, max, next time.Duration
}

func newBackoff(initial, max time.Duration) *backoff {
	return &backoff{initial: initial, max: max, next: initial}
}

func (b *backoff) reset() { b.next = b.initial }

// sleep waits for the next delay or until ctx is done (returning an
// *Error for the context's error).
func (b *backoff) sleep(ctx context.Context) error {
	d := b.next
	b.next = min(b.next*2, b.max)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctxError(ctx)
	}
}
