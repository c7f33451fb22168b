package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	taskwirev1 "github.com/taskwire/taskwire/clients/go/gen/taskwire/v1"
)

// ContentTypeJSON is the default content type of arguments and results.
const ContentTypeJSON = "application/json"

var taskNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// Raw is a result passed as bytes with their content type (not JSON-encoded),
// or an argument of a run submitted with a content type other than JSON.
type Raw struct {
	ContentType string
	Data        []byte
}

// task is a registered task: its declared options and the adapter that
// decodes arguments, calls the typed function and encodes its result.
type task struct {
	name   string
	opts   taskOptions
	invoke func(ctx context.Context, args *taskwirev1.Payload) (*taskwirev1.Payload, error)
}

// TaskOption declares a task's defaults: they apply to runs submitted
// without their own (by name, from any language).
type TaskOption func(*taskOptions)

type taskOptions struct {
	retry                  *taskwirev1.RetryPolicy
	timeout                time.Duration
	scheduleToStartTimeout time.Duration
	concurrencyLimit       int
}

func (o *taskOptions) policy() *taskwirev1.RetryPolicy {
	if o.retry == nil {
		o.retry = &taskwirev1.RetryPolicy{}
	}
	return o.retry
}

// Retries sets how many times a failed attempt is retried (0–100).
func Retries(n int) TaskOption {
	return func(o *taskOptions) { o.policy().MaxRetries = int32(n) }
}

// RetryDelays sets the delay before each retry; the last one repeats.
// Without it the delay grows exponentially (see [Backoff]).
func RetryDelays(delays ...time.Duration) TaskOption {
	return func(o *taskOptions) {
		p := o.policy()
		p.DelaysMs = p.DelaysMs[:0]
		for _, d := range delays {
			p.DelaysMs = append(p.DelaysMs, d.Milliseconds())
		}
	}
}

// Backoff sets the exponential backoff: the first delay, the growth factor
// (1 = fixed) and the cap. Defaults: 1 s, 2, 60 s.
func Backoff(initial time.Duration, multiplier float64, maxDelay time.Duration) TaskOption {
	return func(o *taskOptions) {
		p := o.policy()
		p.InitialDelayMs, p.BackoffMultiplier, p.MaxDelayMs = initial.Milliseconds(), multiplier, maxDelay.Milliseconds()
	}
}

// RetryOn retries only failures of these types; NeverRetryOn never retries these.
func RetryOn(types ...string) TaskOption {
	return func(o *taskOptions) { o.policy().RetryOn = append(o.policy().RetryOn, types...) }
}

// NeverRetryOn never retries failures of these types.
func NeverRetryOn(types ...string) TaskOption {
	return func(o *taskOptions) { o.policy().NeverRetryOn = append(o.policy().NeverRetryOn, types...) }
}

// Timeout sets the timeout of one attempt: ctx is cancelled when it passes.
func Timeout(d time.Duration) TaskOption {
	return func(o *taskOptions) { o.timeout = d }
}

// ScheduleToStartTimeout expires a run that has not started d after it became due.
func ScheduleToStartTimeout(d time.Duration) TaskOption {
	return func(o *taskOptions) { o.scheduleToStartTimeout = d }
}

// ConcurrencyLimit caps the runs of this task executing at once across all workers.
func ConcurrencyLimit(n int) TaskOption {
	return func(o *taskOptions) { o.concurrencyLimit = n }
}

func (t *task) proto() *taskwirev1.WorkerTask {
	return &taskwirev1.WorkerTask{
		Name:                     t.name,
		Retry:                    t.opts.retry,
		TimeoutMs:                t.opts.timeout.Milliseconds(),
		ScheduleToStartTimeoutMs: t.opts.scheduleToStartTimeout.Milliseconds(),
		ConcurrencyLimit:         int32(t.opts.concurrencyLimit),
	}
}

func newTask[A, R any](name string, fn func(ctx context.Context, args A) (R, error), opts []TaskOption) (*task, error) {
	if !taskNameRE.MatchString(name) {
		return nil, fmt.Errorf("taskwire: task name %q is not valid: use 1–128 characters of letters, digits, \"-\" and \"_\"", name)
	}
	if fn == nil {
		return nil, fmt.Errorf("taskwire: task %q: nil function", name)
	}
	t := &task{name: name}
	for _, o := range opts {
		if o != nil {
			o(&t.opts)
		}
	}
	if r := t.opts.retry; r != nil && (r.MaxRetries < 0 || r.MaxRetries > 100) {
		return nil, fmt.Errorf("taskwire: task %q: retries must be 0–100, got %d", name, r.MaxRetries)
	}
	if t.opts.timeout < 0 || t.opts.concurrencyLimit < 0 {
		return nil, fmt.Errorf("taskwire: task %q: timeout and concurrency limit must not be negative", name)
	}
	t.invoke = func(ctx context.Context, p *taskwirev1.Payload) (*taskwirev1.Payload, error) {
		var args A
		if err := DecodeArgs(p, &args); err != nil {
			return nil, NonRetryable(WithType("BadArguments", fmt.Errorf("cannot decode the run's arguments into %T: %w", args, err)))
		}
		res, err := fn(ctx, args)
		if err != nil {
			return nil, err
		}
		return encodeResult(res)
	}
	return t, nil
}

// DecodeArgs decodes a run's arguments into v (a pointer), as task
// functions receive them: a JSON array of exactly one element decodes that
// element; any other array decodes whole; a JSON value that is not an array
// decodes as it is; no arguments leave v untouched. A payload of another
// content type decodes only into a *Raw.
func DecodeArgs(p *taskwirev1.Payload, v any) error {
	ct := p.GetContentType()
	if ct != "" && ct != ContentTypeJSON {
		raw, ok := v.(*Raw)
		if !ok {
			return fmt.Errorf("arguments have content type %s; take a worker.Raw to read them", ct)
		}
		*raw = Raw{ContentType: ct, Data: p.GetData()}
		return nil
	}
	data := bytes.TrimSpace(p.GetData())
	if len(data) == 0 {
		return nil
	}
	if data[0] != '[' {
		return json.Unmarshal(data, v)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		return err
	}
	switch len(items) {
	case 0:
		return nil
	case 1:
		// One positional argument is the argument. (A function taking a
		// slice of several gets them from the whole array below.)
		if err := json.Unmarshal(items[0], v); err == nil {
			return nil
		} else if !isTypeMismatch(err) {
			return err
		}
		return json.Unmarshal(data, v)
	default:
		return json.Unmarshal(data, v)
	}
}

func isTypeMismatch(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te)
}

func encodeResult(v any) (*taskwirev1.Payload, error) {
	switch r := v.(type) {
	case Raw:
		ct := r.ContentType
		if ct == "" {
			ct = ContentTypeJSON
		}
		return &taskwirev1.Payload{ContentType: ct, Data: r.Data}, nil
	case *Raw:
		if r != nil {
			return encodeResult(*r)
		}
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, NonRetryable(WithType("ResultNotSerializable", fmt.Errorf("result is not JSON-serialisable: %w", err)))
	}
	return &taskwirev1.Payload{ContentType: ContentTypeJSON, Data: data}, nil
}

// Args2 is two positional arguments: a task submitted with (a, b) takes an Args2[A, B].
type Args2[A, B any] struct {
	A A
	B B
}

// UnmarshalJSON decodes [a, b].
func (t *Args2[A, B]) UnmarshalJSON(data []byte) error {
	return decodeTuple(data, &t.A, &t.B)
}

// Args3 is three positional arguments.
type Args3[A, B, C any] struct {
	A A
	B B
	C C
}

// UnmarshalJSON decodes [a, b, c].
func (t *Args3[A, B, C]) UnmarshalJSON(data []byte) error {
	return decodeTuple(data, &t.A, &t.B, &t.C)
}

func decodeTuple(data []byte, into ...any) error {
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		return err
	}
	if len(items) != len(into) {
		return fmt.Errorf("expected %d arguments, got %d", len(into), len(items))
	}
	for i, v := range into {
		if err := json.Unmarshal(items[i], v); err != nil {
			return fmt.Errorf("argument %d: %w", i, err)
		}
	}
	return nil
}
