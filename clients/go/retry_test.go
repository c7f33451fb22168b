package taskwire

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	taskwirev1 "github.com/taskwire/taskwire/clients/go/gen/taskwire/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// fastRetry keeps the tests quick.
var fastRetry = WithCallRetry(CallRetry{InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})

func unavailable(n int) []fault {
	return failN(n, codes.Unavailable, "NATS is unreachable; retry the call")
}

func submitKeys(f *fakeBroker) []string {
	var keys []string
	for _, r := range allRequests[*taskwirev1.SubmitRequest](f) {
		keys = append(keys, r.GetOptions().GetIdempotencyKey())
	}
	return keys
}

func submitRequestIDs(f *fakeBroker) []string {
	var ids []string
	for _, r := range allRequests[*taskwirev1.SubmitRequest](f) {
		ids = append(ids, r.GetRequestId())
	}
	return ids
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("want a *taskwire.Error, got %T %v", err, err)
	}
	return te
}

func TestSubmitMakesARequestIDPerCall(t *testing.T) {
	env := startFake(t, fastRetry)
	ctx := testCtx(t)
	var da, db bool
	a, err := env.client.Submit(ctx, "t", nil, Deduplicated(&da))
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.client.Submit(ctx, "t", nil, Deduplicated(&db))
	if err != nil {
		t.Fatal(err)
	}
	ids := submitRequestIDs(env.fake)
	if len(ids) != 2 || !uuidV7Pattern.MatchString(ids[0]) || !uuidV7Pattern.MatchString(ids[1]) || ids[0] == ids[1] {
		t.Fatalf("request ids %q", ids)
	}
	// A request id, not an idempotency key (which costs the broker a write).
	if keys := submitKeys(env.fake); keys[0] != "" || keys[1] != "" {
		t.Fatalf("keys %q", keys)
	}
	// The broker made each (fresh) request id its run's id.
	if a.GetId() != ids[0] || b.GetId() != ids[1] || da || db {
		t.Fatalf("runs %s %s, deduplicated %v %v", a.GetId(), b.GetId(), da, db)
	}
}

func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for range 1000 {
		before := time.Now().Truncate(time.Millisecond)
		id := newRequestID()
		after := time.Now()
		if !uuidV7Pattern.MatchString(id) || seen[id] || id <= prev {
			t.Fatalf("request id %q after %q (seen %v)", id, prev, seen[id])
		}
		u := uuid.MustParse(id)
		if sec, nsec := u.Time().UnixTime(); time.Unix(sec, nsec).Before(before) || time.Unix(sec, nsec).After(after) {
			t.Fatalf("request id %q: time %v not in [%v, %v]", id, time.Unix(sec, nsec), before, after)
		}
		seen[id], prev = true, id
	}
}

func TestSubmitRetriesUnavailableWithTheSameRequestID(t *testing.T) {
	env := startFake(t, fastRetry)
	env.fake.inject("Submit", unavailable(1)...)
	var dedup bool
	run, err := env.client.Submit(testCtx(t), "add", JSONArgs(1, 2), Deduplicated(&dedup))
	if err != nil {
		t.Fatal(err)
	}
	reqs := allRequests[*taskwirev1.SubmitRequest](env.fake)
	if len(reqs) != 2 || !proto.Equal(reqs[0], reqs[1]) {
		t.Fatalf("want the same request twice, got %v", reqs)
	}
	rid := reqs[0].GetRequestId()
	if !uuidV7Pattern.MatchString(rid) || reqs[1].GetRequestId() != rid || run.GetId() != rid || len(env.fake.runs) != 1 || dedup {
		t.Fatalf("request id %q, run %s, %d runs, dedup %v", rid, run.GetId(), len(env.fake.runs), dedup)
	}
}

func TestSubmitWhoseAnswerWasLostMakesOneRun(t *testing.T) {
	env := startFake(t, fastRetry)
	ctx := testCtx(t)
	// The broker created the run, then its answer was lost (node loss).
	env.fake.inject("Submit", fault{err: status.Error(codes.Unavailable, "connection reset"), lost: true})
	var dedup bool
	run, err := env.client.Submit(ctx, "t", nil, Deduplicated(&dedup))
	if err != nil {
		t.Fatal(err)
	}
	if n := calls[*taskwirev1.SubmitRequest](env.fake); n != 2 || len(env.fake.runs) != 1 || env.fake.runs[run.GetId()] == nil {
		t.Fatalf("%d submits, runs %v", n, env.fake.runs)
	}
	if ids := submitRequestIDs(env.fake); !uuidV7Pattern.MatchString(ids[0]) || ids[1] != ids[0] || run.GetId() != ids[0] {
		t.Fatalf("request ids %q, run %s", ids, run.GetId())
	}
	// Deduplicated by this call's own first attempt: not reported.
	if dedup {
		t.Fatal("request id of our own: want deduplicated = false")
	}

	// With the caller's key the broker's answer is passed on.
	env.fake.inject("Submit", fault{err: status.Error(codes.Unavailable, "connection reset"), lost: true})
	run2, err := env.client.Submit(ctx, "t", nil, WithIdempotencyKey("order-42"), Deduplicated(&dedup))
	if err != nil {
		t.Fatal(err)
	}
	if keys := submitKeys(env.fake)[2:]; len(keys) != 2 || keys[0] != "order-42" || keys[1] != "order-42" {
		t.Fatalf("keys %q", keys)
	}
	if ids := submitRequestIDs(env.fake)[2:]; ids[0] != "" || ids[1] != "" {
		t.Fatalf("request ids with a key %q", ids)
	}
	if !dedup || len(env.fake.runs) != 2 || run2.GetId() == run.GetId() {
		t.Fatalf("dedup %v, %d runs", dedup, len(env.fake.runs))
	}
}

func TestSubmitKeepsTheCallersKey(t *testing.T) {
	env := startFake(t, fastRetry)
	env.fake.inject("Submit", unavailable(2)...)
	if _, err := env.client.Submit(testCtx(t), "t", nil, WithIdempotencyKey("mine")); err != nil {
		t.Fatal(err)
	}
	if keys := submitKeys(env.fake); strings.Join(keys, ",") != "mine,mine,mine" {
		t.Fatalf("keys %q", keys)
	}
	if ids := submitRequestIDs(env.fake); strings.Join(ids, ",") != ",," {
		t.Fatalf("request ids %q", ids) // the key decides: none sent
	}
}

func TestSubmitRetriesTheRetryableAborted(t *testing.T) {
	env := startFake(t, fastRetry)
	env.fake.inject("Submit", failN(1, codes.Aborted, RetryableAbortedMessage)...)
	env.fake.inject("Submit", unavailable(1)...)
	if _, err := env.client.Submit(testCtx(t), "t", nil); err != nil {
		t.Fatal(err)
	}
	ids := submitRequestIDs(env.fake)
	if len(ids) != 3 || !uuidV7Pattern.MatchString(ids[0]) || ids[0] != ids[1] || ids[1] != ids[2] {
		t.Fatalf("request ids %q", ids)
	}
}

func TestSubmitDoesNotRetryOtherErrors(t *testing.T) {
	cases := []struct {
		code codes.Code
		msg  string
	}{
		{codes.Aborted, "run id collision; retry the call"},
		{codes.Aborted, strings.ToUpper(RetryableAbortedMessage)},
		{codes.InvalidArgument, "task: bad"},
		{codes.AlreadyExists, "request_id x was already used for another Submit"},
		{codes.ResourceExhausted, "args: too large"},
		{codes.Internal, "boom"},
		{codes.DeadlineExceeded, "too slow"},
	}
	for _, c := range cases {
		t.Run(c.code.String()+" "+c.msg, func(t *testing.T) {
			env := startFake(t, fastRetry)
			env.fake.inject("Submit", failN(1, c.code, c.msg)...)
			_, err := env.client.Submit(testCtx(t), "t", nil)
			te := asError(t, err)
			if te.Code != c.code || te.Message != c.msg || te.Attempts != 1 || te.Retryable() {
				t.Fatalf("got %v (attempts %d, retryable %v)", err, te.Attempts, te.Retryable())
			}
			if n := calls[*taskwirev1.SubmitRequest](env.fake); n != 1 {
				t.Fatalf("%d attempts", n)
			}
		})
	}
}

func TestSubmitGivesUpAfterMaxAttempts(t *testing.T) {
	env := startFake(t, WithCallRetry(CallRetry{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	env.fake.inject("Submit", unavailable(10)...)
	_, err := env.client.Submit(testCtx(t), "t", nil)
	te := asError(t, err)
	if !errors.Is(err, ErrUnavailable) || te.Attempts != 3 || !te.Retryable() {
		t.Fatalf("got %v, attempts %d", err, te.Attempts)
	}
	if ids := submitRequestIDs(env.fake); len(ids) != 3 || !uuidV7Pattern.MatchString(ids[0]) || ids[0] != ids[1] || ids[0] != ids[2] {
		t.Fatalf("request ids %q", ids)
	}
}

func TestRetriesOff(t *testing.T) {
	for name, opt := range map[string]ClientOption{
		"WithoutCallRetry": WithoutCallRetry(),
		"MaxAttempts 1":    WithCallRetry(CallRetry{MaxAttempts: 1}),
	} {
		t.Run(name, func(t *testing.T) {
			env := startFake(t, opt)
			ctx := testCtx(t)
			env.fake.inject("Submit", unavailable(1)...)
			_, err := env.client.Submit(ctx, "t", nil)
			if !errors.Is(err, ErrUnavailable) || asError(t, err).Attempts != 1 || calls[*taskwirev1.SubmitRequest](env.fake) != 1 {
				t.Fatalf("got %v", err)
			}
			env.fake.inject("ListRuns", unavailable(1)...)
			if _, err := env.client.ListRuns(ctx, ListFilter{}); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("ListRuns: %v", err)
			}
			// Request ids are still sent.
			if _, err := env.client.Submit(ctx, "t", nil); err != nil || !uuidV7Pattern.MatchString(submitRequestIDs(env.fake)[1]) {
				t.Fatalf("%v %q", err, submitRequestIDs(env.fake))
			}
		})
	}
}

func TestRequestIDsOff(t *testing.T) {
	for name, opt := range map[string]ClientOption{
		"WithRequestIDs(false)": WithRequestIDs(false),
		// The deprecated former name does the same.
		"WithAutoIdempotencyKeys(false)": WithAutoIdempotencyKeys(false),
	} {
		t.Run(name, func(t *testing.T) {
			env := startFake(t, fastRetry, opt)
			ctx := testCtx(t)
			if _, err := env.client.Submit(ctx, "t", nil); err != nil {
				t.Fatal(err)
			}
			// Without a key or a request id a retry could create a second run: not retried.
			env.fake.inject("Submit", unavailable(1)...)
			_, err := env.client.Submit(ctx, "t", nil)
			if !errors.Is(err, ErrUnavailable) || asError(t, err).Attempts != 1 {
				t.Fatalf("got %v", err)
			}
			// With the caller's key it is.
			env.fake.inject("Submit", unavailable(1)...)
			if _, err := env.client.Submit(ctx, "t", nil, WithIdempotencyKey("k")); err != nil {
				t.Fatal(err)
			}
			if keys := submitKeys(env.fake); strings.Join(keys, ",") != ",,k,k" {
				t.Fatalf("keys %q", keys)
			}
			if ids := submitRequestIDs(env.fake); strings.Join(ids, ",") != ",,," {
				t.Fatalf("request ids %q", ids)
			}
		})
	}
	// WithAutoIdempotencyKeys(true) / WithRequestIDs(true): the default.
	for _, opt := range []ClientOption{WithAutoIdempotencyKeys(true), WithRequestIDs(true)} {
		env := startFake(t, fastRetry, WithRequestIDs(false), opt)
		if _, err := env.client.Submit(testCtx(t), "t", nil); err != nil || !uuidV7Pattern.MatchString(submitRequestIDs(env.fake)[0]) {
			t.Fatalf("%v %q", err, submitRequestIDs(env.fake))
		}
	}
}

func TestCallRetryStaysWithinTheDeadline(t *testing.T) {
	env := startFake(t, WithCallRetry(CallRetry{MaxAttempts: 1000, InitialBackoff: 20 * time.Millisecond, MaxBackoff: 80 * time.Millisecond}))
	env.fake.inject("Submit", unavailable(1000)...)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := env.client.Submit(ctx, "t", nil)
	elapsed := time.Since(start)
	te := asError(t, err)
	// The last error, not a deadline: no retry was started that could not
	// end in time.
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v", err)
	}
	// The upper bound leaves 300 ms for a loaded CI machine's scheduling.
	if elapsed < 300*time.Millisecond || elapsed > 800*time.Millisecond {
		t.Fatalf("returned after %v (deadline 500ms)", elapsed)
	}
	if n := calls[*taskwirev1.SubmitRequest](env.fake); te.Attempts <= 3 || te.Attempts >= 1000 || n != te.Attempts {
		t.Fatalf("attempts %d, requests %d", te.Attempts, n)
	}
}

func TestCallRetryStopsWhenCancelled(t *testing.T) {
	env := startFake(t, WithCallRetry(CallRetry{InitialBackoff: 10 * time.Second, MaxBackoff: 10 * time.Second}))
	env.fake.inject("GetStatus", unavailable(5)...)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := env.client.GetStatus(ctx, "01890000-0000-7000-8000-000000000001")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrCanceled) || time.Since(start) > 2*time.Second {
		t.Fatalf("got %v after %v", err, time.Since(start))
	}
}

func TestReadsAndCASWritesRetryUnavailable(t *testing.T) {
	env := startFake(t, fastRetry)
	ctx := testCtx(t)
	run, err := env.client.Submit(ctx, "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	env.fake.transition(run.GetId(), StateFailed, EventFailed, nil)
	for _, m := range []string{"GetStatus", "ListRuns", "Retry", "Cancel"} {
		env.fake.inject(m, unavailable(2)...)
	}
	if _, err := env.client.GetStatus(ctx, run.GetId()); err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.ListRuns(ctx, ListFilter{}); err != nil {
		t.Fatal(err)
	}
	if r, err := env.client.Retry(ctx, run.GetId()); err != nil || r.GetState() != StatePending {
		t.Fatalf("Retry: %v %v", r.GetState(), err)
	}
	if r, err := env.client.Cancel(ctx, run.GetId()); err != nil || r.GetState() != StateCancelled {
		t.Fatalf("Cancel: %v %v", r.GetState(), err)
	}
	got := []int{
		calls[*taskwirev1.GetStatusRequest](env.fake), calls[*taskwirev1.ListRunsRequest](env.fake),
		calls[*taskwirev1.RetryRequest](env.fake), calls[*taskwirev1.CancelRequest](env.fake),
	}
	if got[0] != 3 || got[1] != 3 || got[2] != 3 || got[3] != 3 {
		t.Fatalf("attempts GetStatus, ListRuns, Retry, Cancel = %v, want 3 each", got)
	}

	// A cancel whose answer was lost: the retry is a no-op.
	run2, _ := env.client.Submit(ctx, "t", nil)
	env.fake.inject("Cancel", fault{err: status.Error(codes.Unavailable, "connection reset"), lost: true})
	if r, err := env.client.Cancel(ctx, run2.GetId()); err != nil || r.GetState() != StateCancelled {
		t.Fatalf("lost cancel: %v %v", r.GetState(), err)
	}
}

func TestReadsAndCASWritesDoNotRetryAborted(t *testing.T) {
	env := startFake(t, fastRetry)
	ctx := testCtx(t)
	id := "01890000-0000-7000-8000-000000000001"
	for _, m := range []string{"GetStatus", "ListRuns", "Retry", "Cancel"} {
		env.fake.inject(m, failN(1, codes.Aborted, RetryableAbortedMessage)...)
	}
	_, e1 := env.client.GetStatus(ctx, id)
	_, e2 := env.client.ListRuns(ctx, ListFilter{})
	_, e3 := env.client.Retry(ctx, id)
	_, e4 := env.client.Cancel(ctx, id)
	for i, err := range []error{e1, e2, e3, e4} {
		if status.Code(err) != codes.Aborted || asError(t, err).Attempts != 1 {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}

func TestBatchAndSchedulesAreNotRetried(t *testing.T) {
	env := startFake(t, fastRetry)
	ctx := testCtx(t)
	env.fake.inject("SubmitBatch", unavailable(1)...)
	if _, err := env.client.SubmitBatch(ctx, []BatchItem{{Task: "t"}}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("SubmitBatch: %v", err)
	}
	env.fake.inject("ListSchedules", unavailable(1)...)
	if _, err := env.client.ListSchedules(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ListSchedules: %v", err)
	}
	// Neither gets a request id (nor a key).
	if _, err := env.client.SubmitBatch(ctx, []BatchItem{{Task: "t"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.CreateSchedule(ctx, ScheduleSpec{Name: "s", Cron: "* * * * *", Task: "t"}); err != nil {
		t.Fatal(err)
	}
	if r := lastRequest[*taskwirev1.SubmitBatchRequest](env.fake).GetRuns()[0]; r.GetOptions().GetIdempotencyKey() != "" || r.GetRequestId() != "" {
		t.Fatalf("batch item %v", r)
	}
	if r := lastRequest[*taskwirev1.CreateScheduleRequest](env.fake).GetSchedule().GetRun(); r.GetOptions().GetIdempotencyKey() != "" || r.GetRequestId() != "" {
		t.Fatalf("schedule run %v", r)
	}
}

func TestWaitDoesNotStackRetries(t *testing.T) {
	env := startFake(t, fastRetry)
	ctx := testCtx(t)
	run, err := env.client.Submit(ctx, "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	env.fake.complete(run.GetId(), "7")
	env.fake.inject("GetStatus", unavailable(3)...)
	if _, err := env.client.Wait(ctx, run.GetId()); err != nil {
		t.Fatal(err)
	}
	if n := calls[*taskwirev1.GetStatusRequest](env.fake); n != 4 {
		t.Fatalf("%d GetStatus calls, want 4 (Wait's own loop, one call per try)", n)
	}
}

func TestNewClientTakesRetryOptions(t *testing.T) {
	env := startFake(t)
	conn, err := grpc.NewClient(env.addr, grpc.WithTransportCredentials(insecureCreds()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := testCtx(t)
	env.fake.inject("ListRuns", unavailable(1)...)
	if _, err := NewClient(conn).ListRuns(ctx, ListFilter{}); err != nil {
		t.Fatalf("default retries: %v", err)
	}
	env.fake.inject("ListRuns", unavailable(1)...)
	if _, err := NewClient(conn, WithoutCallRetry()).ListRuns(ctx, ListFilter{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("WithoutCallRetry: %v", err)
	}
	if _, err := NewClient(conn).Submit(ctx, "t", nil); err != nil {
		t.Fatal(err)
	}
	if id := lastRequest[*taskwirev1.SubmitRequest](env.fake).GetRequestId(); !uuidV7Pattern.MatchString(id) {
		t.Fatalf("default request id %q", id)
	}
	if _, err := NewClient(conn, WithRequestIDs(false)).Submit(ctx, "t", nil); err != nil {
		t.Fatal(err)
	}
	if r := lastRequest[*taskwirev1.SubmitRequest](env.fake); r.GetRequestId() != "" || r.GetOptions().GetIdempotencyKey() != "" {
		t.Fatalf("WithRequestIDs(false): %v", r)
	}
}

func TestCallRetryConfig(t *testing.T) {
	d := CallRetry{}.normalized()
	if d != DefaultCallRetry || d.MaxAttempts != 5 || d.InitialBackoff != 50*time.Millisecond ||
		d.MaxBackoff != time.Second || d.BackoffMultiplier != 2 || d.Jitter != 0.2 {
		t.Fatalf("defaults %+v", d)
	}
	mid := func() float64 { return 0.5 }
	var got []time.Duration
	for n := 1; n <= 7; n++ {
		got = append(got, d.backoff(n, mid))
	}
	want := []time.Duration{50, 100, 200, 400, 800, 1000, 1000}
	for i := range want {
		if diff := got[i] - want[i]*time.Millisecond; diff < -time.Microsecond || diff > time.Microsecond {
			t.Fatalf("backoffs %v", got)
		}
	}
	if b := d.backoff(1, func() float64 { return 0 }); b != 40*time.Millisecond {
		t.Fatalf("low jitter %v", b)
	}
	if b := d.backoff(9, func() float64 { return 0.999999 }); b < 1199*time.Millisecond || b > 1200*time.Millisecond {
		t.Fatalf("high jitter %v", b)
	}
	for n := 1; n < 10; n++ {
		base := min(50*time.Millisecond<<(n-1), time.Second)
		if b := d.backoff(n, func() float64 { return 0.3 }); b < base*8/10 || b > base*12/10 {
			t.Fatalf("backoff(%d) = %v", n, b)
		}
	}
	odd := CallRetry{MaxAttempts: -1, InitialBackoff: time.Second, MaxBackoff: time.Millisecond, BackoffMultiplier: 0.5, Jitter: -1}.normalized()
	if odd.MaxAttempts != 5 || odd.MaxBackoff != time.Second || odd.BackoffMultiplier != 1 || odd.Jitter != 0 {
		t.Fatalf("normalized %+v", odd)
	}
	if b := odd.backoff(3, func() float64 { return 0.9 }); b != time.Second {
		t.Fatalf("no jitter: %v", b)
	}
}

func TestErrorRetryable(t *testing.T) {
	for _, c := range []struct {
		code codes.Code
		msg  string
		want bool
	}{
		{codes.Unavailable, "x", true},
		{codes.Aborted, RetryableAbortedMessage, true},
		{codes.Aborted, "run id collision; retry the call", false},
		{codes.Internal, RetryableAbortedMessage, false},
	} {
		e := convertError(context.Background(), status.Error(c.code, c.msg)).(*Error)
		if e.Retryable() != c.want || e.Attempts != 1 {
			t.Errorf("%v %q: retryable %v attempts %d", c.code, c.msg, e.Retryable(), e.Attempts)
		}
	}
}
