package taskwire

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	taskwirev1 "github.com/taskwire/taskwire/clients/go/gen/taskwire/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ContentTypeJSON is the media type of JSON payloads, the default.
const ContentTypeJSON = "application/json"

// Args is a prepared argument payload: [JSONArgs] or [RawArgs]. Any other
// value passed as args to [Client.Submit] is JSON-encoded (see there).
type Args interface {
	payload() (*Payload, error)
}

type jsonArgs []any

func (a jsonArgs) payload() (*Payload, error) {
	list := []any(a)
	if list == nil {
		list = []any{}
	}
	data, err := json.Marshal(list)
	if err != nil {
		return nil, fmt.Errorf("taskwire: encoding args: %w", err)
	}
	return &Payload{ContentType: ContentTypeJSON, Data: data}, nil
}

// JSONArgs returns positional arguments: the task receives args[0],
// args[1], ... They are encoded with encoding/json as one JSON array, so
// JSONArgs(2, 3) sends [2,3] and JSONArgs([]int{1, 2}) sends one array
// argument [[1,2]]. JSONArgs() sends no arguments ([]).
func JSONArgs(args ...any) Args { return jsonArgs(args) }

type rawArgs struct{ p *Payload }

func (r rawArgs) payload() (*Payload, error) { return r.p, nil }

// RawArgs sends data as-is with the given content type (empty means
// "application/json"). For JSON the broker accepts an array of positional
// arguments or any other JSON value (passed as the single argument), and
// rejects data that does not parse with INVALID_ARGUMENT.
func RawArgs(contentType string, data []byte) Args {
	return rawArgs{&Payload{ContentType: contentType, Data: data}}
}

// argsPayload converts the args parameter of Submit into a payload.
func argsPayload(args any) (*Payload, error) {
	switch a := args.(type) {
	case nil:
		return &Payload{ContentType: ContentTypeJSON, Data: []byte("[]")}, nil
	case Args:
		return a.payload()
	case *Payload:
		return a, nil
	case json.RawMessage:
		return &Payload{ContentType: ContentTypeJSON, Data: a}, nil
	}
	data, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("taskwire: encoding args: %w", err)
	}
	return &Payload{ContentType: ContentTypeJSON, Data: data}, nil
}

// RetryPolicy says how often and when a failed attempt is retried. Zero
// fields mean the broker's defaults (given per field).
type RetryPolicy struct {
	// MaxRetries is the number of retries after the first attempt, so a run
	// gets up to MaxRetries+1 attempts. 0–100. 0 = no retries.
	MaxRetries int
	// InitialDelay before the first retry. 0 = default 1s. Sent in whole
	// milliseconds, rounded up.
	InitialDelay time.Duration
	// BackoffMultiplier between consecutive delays. 0 = default 2.0;
	// 1.0 = a fixed delay.
	BackoffMultiplier float64
	// MaxDelay caps one delay. 0 = default 60s. Whole ms, rounded up.
	MaxDelay time.Duration
	// Jitter is the random spread of each delay, 0–1 (0.2 = ±20 %).
	// Default 0.
	Jitter float64
	// Delays lists explicit delays per retry; the last one repeats. When
	// not empty it overrides InitialDelay, BackoffMultiplier and MaxDelay.
	// Whole ms, rounded up.
	Delays []time.Duration
	// RetryOn retries only errors of these types (Failure.type, e.g.
	// "TimeoutError"). Empty: any type.
	RetryOn []string
	// NeverRetryOn never retries errors of these types.
	NeverRetryOn []string
}

func (p RetryPolicy) proto() *taskwirev1.RetryPolicy {
	out := &taskwirev1.RetryPolicy{
		MaxRetries:        int32(p.MaxRetries),
		InitialDelayMs:    durationMs(p.InitialDelay),
		BackoffMultiplier: p.BackoffMultiplier,
		MaxDelayMs:        durationMs(p.MaxDelay),
		Jitter:            p.Jitter,
		RetryOn:           append([]string(nil), p.RetryOn...),
		NeverRetryOn:      append([]string(nil), p.NeverRetryOn...),
	}
	for _, d := range p.Delays {
		out.DelaysMs = append(out.DelaysMs, durationMs(d))
	}
	return out
}

// durationMs converts d to whole milliseconds, rounding a positive
// fraction up (so a 1µs timeout is 1 ms, not "none") and a negative one
// towards zero; the broker rejects negative values.
func durationMs(d time.Duration) int64 {
	ms := d.Milliseconds()
	if d > 0 && d%time.Millisecond != 0 {
		ms++
	}
	return ms
}

// SubmitOption sets one field of a submission's options
// (taskwire.v1.SubmitOptions). Later options override earlier ones, except
// WithLabels / WithLabel, which merge.
type SubmitOption func(*submitConfig)

type submitConfig struct {
	opts         *taskwirev1.SubmitOptions
	deduplicated *bool
}

// WithIdempotencyKey makes the submission idempotent: every Submit with the
// same key (and task) returns the same run for the broker's whole retention
// period (instead of creating a new one). 1–256 characters. Default: none
// ([Client.Submit] sends a request id instead, which makes its own retries
// safe: see [WithRequestIDs]). With a key, no request id is sent.
func WithIdempotencyKey(key string) SubmitOption {
	return func(c *submitConfig) { c.opts.IdempotencyKey = key }
}

// WithQueue routes the run to a queue: 1–64 characters of [a-z0-9-].
// Default "default".
func WithQueue(queue string) SubmitOption {
	return func(c *submitConfig) { c.opts.Queue = queue }
}

// WithPriority sets the priority: higher starts first under a backlog.
// Default 0 (normal). Reserved by the broker for priorities.
func WithPriority(priority int32) SubmitOption {
	return func(c *submitConfig) { c.opts.Priority = priority }
}

// WithRetry sets the retry policy. Default: the task's default (no
// retries).
func WithRetry(policy RetryPolicy) SubmitOption {
	return func(c *submitConfig) { c.opts.Retry = policy.proto() }
}

// WithTimeout limits each attempt's execution time (the worker's
// AbortSignal fires and the attempt times out). Sent in whole milliseconds,
// rounded up. Default 0 = no timeout.
func WithTimeout(d time.Duration) SubmitOption {
	return func(c *submitConfig) { c.opts.TimeoutMs = durationMs(d) }
}

// WithScheduledAt makes the run start no earlier than t (state SCHEDULED
// until then). Exclusive with [WithDelay]. The zero time clears it.
// Default: start now.
func WithScheduledAt(t time.Time) SubmitOption {
	return func(c *submitConfig) {
		if t.IsZero() {
			c.opts.ScheduledAt = nil
			return
		}
		c.opts.ScheduledAt = timestamppb.New(t)
	}
}

// WithDelay makes the run start no earlier than now + d (state SCHEDULED
// until then). Exclusive with [WithScheduledAt]. Sent in whole
// milliseconds, rounded up. Default 0 = start now.
func WithDelay(d time.Duration) SubmitOption {
	return func(c *submitConfig) { c.opts.DelayMs = durationMs(d) }
}

// WithLabels adds free-form labels (up to 32 pairs in total); it merges
// with earlier WithLabels / WithLabel options. Default: none.
func WithLabels(labels map[string]string) SubmitOption {
	return func(c *submitConfig) {
		if len(labels) == 0 {
			return
		}
		if c.opts.Labels == nil {
			c.opts.Labels = make(map[string]string, len(labels))
		}
		maps.Copy(c.opts.Labels, labels)
	}
}

// WithLabel adds one label; see [WithLabels].
func WithLabel(key, value string) SubmitOption {
	return WithLabels(map[string]string{key: value})
}

// WithCacheKey sets the cache key: a run completed with the same key
// within its cache TTL ([WithCacheTTL]) answers from that run's result
// without executing (the run is COMPLETED with cached = true). Default:
// none.
func WithCacheKey(key string) SubmitOption {
	return func(c *submitConfig) { c.opts.CacheKey = key }
}

// WithCacheTTL sets how long a result cached under [WithCacheKey] stays
// valid. Sent in whole milliseconds, rounded up. Default 0 = no caching.
func WithCacheTTL(ttl time.Duration) SubmitOption {
	return func(c *submitConfig) { c.opts.CacheTtlMs = durationMs(ttl) }
}

// WithRefreshCache executes the run even on a cache hit and replaces the
// cached result. Default: off.
func WithRefreshCache() SubmitOption {
	return func(c *submitConfig) { c.opts.RefreshCache = true }
}

// WithConcurrencyKey makes the run count against the task's per-key
// concurrency limit together with other runs of the same key. Default:
// none.
func WithConcurrencyKey(key string) SubmitOption {
	return func(c *submitConfig) { c.opts.ConcurrencyKey = key }
}

// WithScheduleToStartTimeout expires the run (FAILED with error type
// "ScheduleToStartTimeout") when no worker has started it within d of it
// becoming due. Sent in whole milliseconds, rounded up. Default 0 = never.
func WithScheduleToStartTimeout(d time.Duration) SubmitOption {
	return func(c *submitConfig) { c.opts.ScheduleToStartTimeoutMs = durationMs(d) }
}

// WithWaitFor makes the run wait for other runs (at most 100 ids): it stays
// SCHEDULED until they are all terminal and starts if they all COMPLETED; if
// one failed or was cancelled it fails at once (type "DependencyFailed")
// unless [WithRunIfDependenciesFail] is given.
func WithWaitFor(runIDs ...string) SubmitOption {
	return func(c *submitConfig) { c.opts.WaitFor = append(c.opts.WaitFor, runIDs...) }
}

// WithRunIfDependenciesFail starts the run even when a run it waits for
// failed or was cancelled.
func WithRunIfDependenciesFail() SubmitOption {
	return func(c *submitConfig) { c.opts.RunIfDependenciesFail = true }
}

// WithSubmitOptions merges raw proto options (proto.Merge: set fields
// override, lists append, maps merge) at this point of the option list. For
// fields this package does not wrap yet.
func WithSubmitOptions(opts *taskwirev1.SubmitOptions) SubmitOption {
	return func(c *submitConfig) {
		if opts != nil {
			proto.Merge(c.opts, opts)
		}
	}
}

// Deduplicated stores into *dst whether the broker answered from an
// earlier submission with the same idempotency key instead of creating a
// run (SubmitResponse.deduplicated). Like grpc.Header, it is an output
// option. With the request id made by [Client.Submit] (no key given) it is
// always false: only an earlier attempt of the same call can have used it.
func Deduplicated(dst *bool) SubmitOption {
	return func(c *submitConfig) { c.deduplicated = dst }
}

func buildSubmit(task string, args any, opts []SubmitOption) (*taskwirev1.SubmitRequest, *bool, error) {
	payload, err := argsPayload(args)
	if err != nil {
		return nil, nil, err
	}
	cfg := submitConfig{opts: &taskwirev1.SubmitOptions{}}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return &taskwirev1.SubmitRequest{Task: task, Args: payload, Options: cfg.opts}, cfg.deduplicated, nil
}

// Submit enqueues one run of task and returns its record at once (state
// PENDING, or SCHEDULED when delayed). Use [Client.Wait] for its outcome.
//
// args are the task's arguments:
//   - [JSONArgs](a, b, ...): positional arguments (recommended);
//   - [RawArgs](contentType, data) or a *[Payload]: sent as-is;
//   - json.RawMessage: sent as-is as JSON;
//   - nil: no arguments;
//   - any other value is encoded with encoding/json: a slice or array
//     becomes the positional argument list, anything else (a struct, map,
//     number, string) is passed as the single argument.
//
// Without [WithIdempotencyKey] the submission gets a request id, a UUIDv7
// made for this call (unless the client was made with
// WithRequestIDs(false)), and a Submit that failed with UNAVAILABLE, or
// with the broker's retryable ABORTED, is retried with the same key or
// request id within ctx's deadline (see [CallRetry]), so one call creates
// at most one run.
//
// Errors: ErrInvalidArgument (bad task name, args or option; the message
// names the field), ErrResourceExhausted (payload too large), ErrUnavailable
// (still, after the client's retries; retry safely with the same key).
func (c *Client) Submit(ctx context.Context, task string, args any, opts ...SubmitOption) (*Run, error) {
	req, dedup, err := buildSubmit(task, args, opts)
	if err != nil {
		return nil, err
	}
	// Once per logical submit, before the first attempt: every retry
	// carries the same request id.
	generated := false
	if c.requestIDs && req.Options.IdempotencyKey == "" && req.RequestId == "" {
		req.RequestId = newRequestID()
		generated = true
	}
	var on retryOn
	if req.Options.IdempotencyKey != "" || req.RequestId != "" {
		on = retrySubmit // without either a retry could create a second run
	}
	resp, err := invoke(ctx, c, on, func(ctx context.Context) (*taskwirev1.SubmitResponse, error) {
		return c.api.Submit(ctx, req)
	})
	if err != nil {
		return nil, err
	}
	if dedup != nil {
		*dedup = resp.GetDeduplicated() && !generated
	}
	return resp.GetRun(), nil
}

// BatchItem is one run of [Client.SubmitBatch]; its fields are those of
// [Client.Submit].
type BatchItem struct {
	Task    string
	Args    any
	Options []SubmitOption
}

// SubmitBatch submits 1–1000 runs in one call. The broker validates every
// item first and enqueues none when one is invalid (all or nothing). The
// runs are returned in request order. Deduplicated options in the items are
// honoured.
func (c *Client) SubmitBatch(ctx context.Context, items []BatchItem) ([]*Run, error) {
	req := &taskwirev1.SubmitBatchRequest{Runs: make([]*taskwirev1.SubmitRequest, 0, len(items))}
	dedups := make([]*bool, len(items))
	for i, it := range items {
		r, dedup, err := buildSubmit(it.Task, it.Args, it.Options)
		if err != nil {
			return nil, fmt.Errorf("taskwire: batch item %d: %w", i, err)
		}
		req.Runs = append(req.Runs, r)
		dedups[i] = dedup
	}
	resp, err := c.api.SubmitBatch(ctx, req)
	if err != nil {
		return nil, convertError(ctx, err)
	}
	runs := make([]*Run, len(resp.GetRuns()))
	for i, r := range resp.GetRuns() {
		runs[i] = r.GetRun()
		if i < len(dedups) && dedups[i] != nil {
			*dedups[i] = r.GetDeduplicated()
		}
	}
	return runs, nil
}
