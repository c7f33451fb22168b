package taskwire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	taskwirev1 "github.com/taskwire/taskwire/clients/go/gen/taskwire/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestSubmitOptionsMapping(t *testing.T) {
	env := startFake(t)
	ctx := testCtx(t)
	at := time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	_, err := env.client.Submit(ctx, "add", JSONArgs(2, 3),
		WithIdempotencyKey("key-1"),
		WithQueue("emails"),
		WithPriority(7),
		WithRetry(RetryPolicy{
			MaxRetries: 3, InitialDelay: 250 * time.Millisecond, BackoffMultiplier: 1.5,
			MaxDelay: time.Minute, Jitter: 0.2,
			Delays:  []time.Duration{100 * time.Millisecond, 2 * time.Second},
			RetryOn: []string{"TimeoutError"}, NeverRetryOn: []string{"TypeError"},
		}),
		WithTimeout(90*time.Second),
		WithScheduledAt(at),
		WithDelay(1500*time.Microsecond), // rounds up to 2 ms
		WithLabels(map[string]string{"a": "1"}),
		WithLabel("b", "2"),
		WithCacheKey("ck"),
		WithCacheTTL(time.Hour),
		WithRefreshCache(),
		WithConcurrencyKey("user-42"),
		WithScheduleToStartTimeout(5*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	got := lastRequest[*taskwirev1.SubmitRequest](env.fake)
	want := &taskwirev1.SubmitRequest{
		Task: "add",
		Args: &taskwirev1.Payload{ContentType: "application/json", Data: []byte("[2,3]")},
		Options: &taskwirev1.SubmitOptions{
			IdempotencyKey: "key-1", Queue: "emails", Priority: 7,
			Retry: &taskwirev1.RetryPolicy{
				MaxRetries: 3, InitialDelayMs: 250, BackoffMultiplier: 1.5, MaxDelayMs: 60000,
				Jitter: 0.2, DelaysMs: []int64{100, 2000}, RetryOn: []string{"TimeoutError"},
				NeverRetryOn: []string{"TypeError"},
			},
			TimeoutMs: 90000, ScheduledAt: timestamppb.New(at), DelayMs: 2,
			Labels:   map[string]string{"a": "1", "b": "2"},
			CacheKey: "ck", CacheTtlMs: 3600000, RefreshCache: true, ConcurrencyKey: "user-42",
			ScheduleToStartTimeoutMs: 5000,
		},
	}
	if !proto.Equal(got, want) {
		t.Fatalf("request mismatch:\n got %v\nwant %v", got, want)
	}

	// No options: empty (not nil-dereferencing) options, defaults left to the
	// broker; the request carries a request id (see retry_test.go).
	if _, err := env.client.Submit(ctx, "add", nil); err != nil {
		t.Fatal(err)
	}
	got = lastRequest[*taskwirev1.SubmitRequest](env.fake)
	if !proto.Equal(got.GetOptions(), &taskwirev1.SubmitOptions{}) || !uuidV7Pattern.MatchString(got.GetRequestId()) || string(got.GetArgs().GetData()) != "[]" {
		t.Fatalf("defaults: %v", got)
	}

	// Raw options merge, later options override.
	_, err = env.client.Submit(ctx, "add", nil, WithQueue("a"),
		WithSubmitOptions(&taskwirev1.SubmitOptions{Queue: "b", Priority: 1}), WithPriority(2))
	if err != nil {
		t.Fatal(err)
	}
	got = lastRequest[*taskwirev1.SubmitRequest](env.fake)
	if got.GetOptions().GetQueue() != "b" || got.GetOptions().GetPriority() != 2 {
		t.Fatalf("merge: %v", got.GetOptions())
	}
}

func TestDurationMs(t *testing.T) {
	for d, want := range map[time.Duration]int64{
		0: 0, time.Microsecond: 1, time.Millisecond: 1, 1500 * time.Microsecond: 2,
		2 * time.Second: 2000, -time.Millisecond: -1,
	} {
		if got := durationMs(d); got != want {
			t.Errorf("durationMs(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestArgsEncoding(t *testing.T) {
	type point struct {
		X int `json:"x"`
	}
	cases := []struct {
		name     string
		args     any
		wantType string
		wantData string
	}{
		{"JSONArgs", JSONArgs(2, "three", nil), "application/json", `[2,"three",null]`},
		{"JSONArgs empty", JSONArgs(), "application/json", `[]`},
		{"JSONArgs slice is one arg", JSONArgs([]int{1, 2}), "application/json", `[[1,2]]`},
		{"nil", nil, "application/json", `[]`},
		{"slice is positional", []any{1, "a"}, "application/json", `[1,"a"]`},
		{"struct is single arg", point{X: 1}, "application/json", `{"x":1}`},
		{"raw message", json.RawMessage(`[1, 2]`), "application/json", `[1, 2]`},
		{"RawArgs", RawArgs("text/plain", []byte("hi")), "text/plain", `hi`},
		{"payload", &Payload{ContentType: "application/octet-stream", Data: []byte{1}}, "application/octet-stream", "\x01"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := argsPayload(c.args)
			if err != nil {
				t.Fatal(err)
			}
			if p.GetContentType() != c.wantType || string(p.GetData()) != c.wantData {
				t.Fatalf("got %q %q, want %q %q", p.GetContentType(), p.GetData(), c.wantType, c.wantData)
			}
		})
	}
	if _, err := argsPayload(JSONArgs(make(chan int))); err == nil {
		t.Fatal("unencodable args: want an error")
	}
}

func TestErrors(t *testing.T) {
	env := startFake(t)
	ctx := testCtx(t)

	_, err := env.client.GetStatus(ctx, "01890000-0000-7000-8000-000000000999")
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("errors.Is NotFound: %v", err)
	}
	if status.Code(err) != codes.NotFound {
		t.Fatalf("status.Code = %v", status.Code(err))
	}
	wrapped := fmt.Errorf("loading: %w", err)
	if status.Code(wrapped) != codes.NotFound || !errors.Is(wrapped, ErrNotFound) {
		t.Fatalf("wrapped: code %v", status.Code(wrapped))
	}
	var te *Error
	if !errors.As(err, &te) || te.Code != codes.NotFound || !strings.Contains(te.Message, "01890000-0000-7000-8000-000000000999") {
		t.Fatalf("errors.As: %#v", te)
	}
	if !strings.HasPrefix(err.Error(), "taskwire: NotFound: ") {
		t.Fatalf("message: %q", err.Error())
	}
	if st, ok := status.FromError(err); !ok || st.Message() != te.Message {
		t.Fatalf("status.FromError: %v %v", st, ok)
	}

	_, err = env.client.Submit(ctx, "bad task!", nil)
	if !errors.Is(err, ErrInvalidArgument) || status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "task") {
		t.Fatalf("invalid task: %v", err)
	}
	_, err = env.client.Submit(ctx, "echo", RawArgs("", make([]byte, 1<<17)))
	if !errors.Is(err, ErrResourceExhausted) {
		t.Fatalf("large: %v", err)
	}
	_, err = env.client.GetStatus(ctx, "01890000-0000-7000-8000-000000000001", WithWaitTimeout(-time.Millisecond))
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "wait_timeout_ms") {
		t.Fatalf("negative wait: %v", err)
	}

	run, err := env.client.Submit(ctx, "add", JSONArgs(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	env.fake.complete(run.GetId(), "3")
	_, err = env.client.Cancel(ctx, run.GetId())
	if !errors.Is(err, ErrFailedPrecondition) || status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("cancel completed: %v", err)
	}

	// The sentinels themselves carry their code.
	if status.Code(ErrNotFound) != codes.NotFound || errors.Is(ErrNotFound, ErrInvalidArgument) {
		t.Fatal("sentinel codes")
	}

	// A cancelled context matches both context.Canceled and ErrCanceled.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = env.client.GetStatus(cctx, run.GetId())
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrCanceled) || status.Code(err) != codes.Canceled {
		t.Fatalf("cancelled ctx: %v", err)
	}
}

func TestCancel(t *testing.T) {
	env := startFake(t)
	ctx := testCtx(t)
	run, err := env.client.Submit(ctx, "add", JSONArgs(1, 1), WithDelay(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if run.GetState() != StateScheduled {
		t.Fatalf("state %v", run.GetState())
	}
	run, err = env.client.Cancel(ctx, run.GetId(), WithCancelReason("no longer needed"))
	if err != nil || run.GetState() != StateCancelled {
		t.Fatalf("cancel: %v %v", run.GetState(), err)
	}
	if got := lastRequest[*taskwirev1.CancelRequest](env.fake); got.GetReason() != "no longer needed" {
		t.Fatalf("reason: %v", got)
	}
	if _, err := env.client.Cancel(ctx, run.GetId()); err != nil {
		t.Fatalf("second cancel: %v", err)
	}
	err = ResultInto(run, new(any))
	var re *RunError
	if !errors.Is(err, ErrRunCancelled) || errors.Is(err, ErrRunFailed) || !errors.As(err, &re) || re.Run.GetId() != run.GetId() {
		t.Fatalf("ResultInto cancelled: %v", err)
	}
}

func TestWait(t *testing.T) {
	env := startFake(t)
	ctx := testCtx(t)
	run, err := env.client.Submit(ctx, "add", JSONArgs(2, 3))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		env.fake.transition(run.GetId(), StateRunning, EventStarted, func(r *Run) { r.Attempt = 1 })
		time.Sleep(100 * time.Millisecond)
		env.fake.transition(run.GetId(), StateCompleted, EventCompleted, func(r *Run) {
			r.Result = &Payload{ContentType: ContentTypeJSON, Data: []byte("5")}
		})
	}()
	done, err := env.client.Wait(ctx, run.GetId())
	if err != nil {
		t.Fatal(err)
	}
	sum, err := DecodeResult[int](done)
	if err != nil || sum != 5 {
		t.Fatalf("result %v %v", sum, err)
	}
	// Wait long-polled instead of spinning.
	for _, r := range allRequests[*taskwirev1.GetStatusRequest](env.fake) {
		if r.GetWaitTimeoutMs() <= 0 {
			t.Fatalf("Wait sent wait_timeout_ms %d", r.GetWaitTimeoutMs())
		}
	}
	if n := len(allRequests[*taskwirev1.GetStatusRequest](env.fake)); n > 3 {
		t.Fatalf("Wait made %d GetStatus calls", n)
	}
}

func TestWaitDeadline(t *testing.T) {
	env := startFake(t)
	ctx := testCtx(t)
	run, err := env.client.Submit(ctx, "sleep", JSONArgs(1000))
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = env.client.Wait(wctx, run.GetId())
	if !errors.Is(err, context.DeadlineExceeded) || status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Wait overran its deadline: %v", el)
	}
	// The per-call wait fits inside the deadline.
	if r := lastRequest[*taskwirev1.GetStatusRequest](env.fake); r.GetWaitTimeoutMs() > 300 {
		t.Fatalf("wait_timeout_ms %d beyond the deadline", r.GetWaitTimeoutMs())
	}
}

func TestWaitRetriesUnavailableAndImpatientBroker(t *testing.T) {
	env := startFake(t)
	ctx := testCtx(t)
	run, err := env.client.Submit(ctx, "add", JSONArgs(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	env.fake.mu.Lock()
	env.fake.unavailableStatus = 2
	env.fake.ignoreWaitTimeouts = true
	env.fake.mu.Unlock()
	go func() {
		time.Sleep(700 * time.Millisecond)
		env.fake.transition(run.GetId(), StateFailed, EventFailed, func(r *Run) {
			r.Error = &Failure{Type: "TypeError", Message: "boom"}
		})
	}()
	done, err := env.client.Wait(ctx, run.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(allRequests[*taskwirev1.GetStatusRequest](env.fake)); n > 15 {
		t.Fatalf("Wait spun: %d GetStatus calls", n)
	}
	_, err = DecodeResult[int](done)
	var re *RunError
	if !errors.Is(err, ErrRunFailed) || !errors.As(err, &re) || re.Failure().GetType() != "TypeError" {
		t.Fatalf("failed run: %v", err)
	}
	if !strings.Contains(err.Error(), "TypeError: boom") {
		t.Fatalf("message: %v", err)
	}
}

func TestResultInto(t *testing.T) {
	run := &Run{Id: "r", State: StateCompleted, Result: &Payload{Data: []byte(`{"a":[1,2]}`)}}
	var v struct{ A []int }
	if err := ResultInto(run, &v); err != nil || !slices.Equal(v.A, []int{1, 2}) {
		t.Fatalf("%v %v", v, err)
	}
	if _, err := DecodeResult[any](&Run{State: StateRunning}); !errors.Is(err, ErrRunNotFinished) {
		t.Fatalf("running: %v", err)
	}
	if _, err := DecodeResult[any](&Run{State: StateCompleted, Result: &Payload{ContentType: "text/plain", Data: []byte("x")}}); err == nil {
		t.Fatal("text result: want an error")
	}
	if v, err := DecodeResult[any](&Run{State: StateCompleted}); err != nil || v != nil {
		t.Fatalf("empty result: %v %v", v, err)
	}
}

// collect drains a StreamEvents iterator.
func collect(t *testing.T, seq func(func(*Event, error) bool)) ([]*Event, error) {
	t.Helper()
	var evs []*Event
	for ev, err := range seq {
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

func eventTypes(evs []*Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.GetType().String())
	}
	return out
}

func TestStreamEventsHistoryAndResume(t *testing.T) {
	env := startFake(t)
	ctx := testCtx(t)
	run, _ := env.client.Submit(ctx, "add", JSONArgs(1, 2))
	env.fake.complete(run.GetId(), "3")

	evs, err := collect(t, env.client.StreamEvents(ctx, EventFilter{RunIDs: []string{run.GetId()}, UntilTerminal: true}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"EVENT_TYPE_SUBMITTED", "EVENT_TYPE_STARTED", "EVENT_TYPE_COMPLETED"}
	if !slices.Equal(eventTypes(evs), want) {
		t.Fatalf("events %v", eventTypes(evs))
	}
	evs, err = collect(t, env.client.StreamEvents(ctx, EventFilter{RunIDs: []string{run.GetId()}, AfterCursor: evs[0].GetCursor(), UntilTerminal: true}))
	if err != nil || !slices.Equal(eventTypes(evs), want[1:]) {
		t.Fatalf("resume: %v %v", eventTypes(evs), err)
	}
}

// A stream that the broker ends with UNAVAILABLE mid-way is resumed from the
// last cursor: every event arrives once, in order.
func TestStreamEventsReconnectsAfterDroppedStream(t *testing.T) {
	env := startFake(t)
	ctx := testCtx(t)
	run, _ := env.client.Submit(ctx, "flaky", JSONArgs(2))
	env.fake.mu.Lock()
	env.fake.dropStreamsAfter, env.fake.dropAfterEvents = 2, 2
	env.fake.mu.Unlock()
	go func() {
		for i := 1; i <= 3; i++ {
			env.fake.transition(run.GetId(), StateRunning, EventStarted, func(r *Run) { r.Attempt = int32(i) })
			if i < 3 {
				env.fake.transition(run.GetId(), StateAwaitingRetry, EventRetryScheduled, nil)
			}
			time.Sleep(20 * time.Millisecond)
		}
		env.fake.transition(run.GetId(), StateCompleted, EventCompleted, nil)
	}()
	evs, err := collect(t, env.client.StreamEvents(ctx, EventFilter{RunIDs: []string{run.GetId()}, UntilTerminal: true},
		WithReconnectBackoff(time.Millisecond, 10*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"EVENT_TYPE_SUBMITTED", "EVENT_TYPE_STARTED", "EVENT_TYPE_RETRY_SCHEDULED", "EVENT_TYPE_STARTED",
		"EVENT_TYPE_RETRY_SCHEDULED", "EVENT_TYPE_STARTED", "EVENT_TYPE_COMPLETED"}
	if !slices.Equal(eventTypes(evs), want) {
		t.Fatalf("events %v", eventTypes(evs))
	}
	reqs := allRequests[*taskwirev1.StreamEventsRequest](env.fake)
	if len(reqs) != 3 {
		t.Fatalf("%d stream requests, want 3", len(reqs))
	}
	if reqs[0].GetAfterCursor() != "" || reqs[1].GetAfterCursor() != evs[1].GetCursor() || reqs[2].GetAfterCursor() != evs[3].GetCursor() {
		t.Fatalf("resume cursors: %q %q %q", reqs[0].GetAfterCursor(), reqs[1].GetAfterCursor(), reqs[2].GetAfterCursor())
	}
	for _, r := range reqs {
		if !r.GetUntilTerminal() || !slices.Equal(r.GetRunIds(), []string{run.GetId()}) {
			t.Fatalf("filter lost on reconnect: %v", r)
		}
	}
}

// Cutting the TCP connection under a live stream is a transient failure
// too: the client reconnects (gRPC re-dials) and resumes by cursor.
func TestStreamEventsReconnectsAfterConnectionLoss(t *testing.T) {
	env := startFake(t)
	ctx := testCtx(t)
	run, _ := env.client.Submit(ctx, "add", JSONArgs(1, 2))
	env.fake.transition(run.GetId(), StateRunning, EventStarted, nil)
	env.fake.mu.Lock()
	env.fake.hangStreamsAfter, env.fake.hangAfterEvents = 1, 2
	env.fake.mu.Unlock()

	var types []string
	var cursors []string
	for ev, err := range env.client.StreamEvents(ctx, EventFilter{RunIDs: []string{run.GetId()}, UntilTerminal: true},
		WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond)) {
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, ev.GetType().String())
		cursors = append(cursors, ev.GetCursor())
		if len(types) == 2 {
			go func() {
				<-env.fake.hung // the stream is stuck: kill the connection
				env.lis.cut()
				time.Sleep(50 * time.Millisecond)
				env.fake.transition(run.GetId(), StateCompleted, EventCompleted, nil)
			}()
		}
	}
	want := []string{"EVENT_TYPE_SUBMITTED", "EVENT_TYPE_STARTED", "EVENT_TYPE_COMPLETED"}
	if !slices.Equal(types, want) {
		t.Fatalf("events %v", types)
	}
	reqs := allRequests[*taskwirev1.StreamEventsRequest](env.fake)
	if len(reqs) < 2 || reqs[len(reqs)-1].GetAfterCursor() != cursors[1] {
		t.Fatalf("did not resume from %q: %v", cursors[1], reqs)
	}
}

func TestStreamEventsErrorsAndBreak(t *testing.T) {
	env := startFake(t)
	ctx := testCtx(t)

	// A non-transient error ends the iteration at once, without retries.
	evs, err := collect(t, env.client.StreamEvents(ctx, EventFilter{AfterCursor: "not-a-cursor"}))
	if len(evs) != 0 || !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "after_cursor") {
		t.Fatalf("bad cursor: %v %v", evs, err)
	}
	if n := len(allRequests[*taskwirev1.StreamEventsRequest](env.fake)); n != 1 {
		t.Fatalf("%d attempts for a non-transient error", n)
	}

	// Breaking out of the loop cancels the stream.
	run, _ := env.client.Submit(ctx, "add", JSONArgs(1, 2))
	for range env.client.StreamEvents(ctx, EventFilter{RunIDs: []string{run.GetId()}}) {
		break
	}

	// Cancelling the context ends a live stream with context.Canceled.
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = collect(t, env.client.StreamEvents(cctx, EventFilter{Tasks: []string{"add"}}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}

	// Reconnects give up after WithMaxReconnects failures in a row.
	env.fake.mu.Lock()
	env.fake.dropStreamsAfter, env.fake.dropAfterEvents = 100, 0
	env.fake.mu.Unlock()
	_, err = collect(t, env.client.StreamEvents(ctx, EventFilter{RunIDs: []string{run.GetId()}},
		WithMaxReconnects(2), WithReconnectBackoff(time.Millisecond, time.Millisecond)))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("max reconnects: %v", err)
	}
}

func TestStreamEventsLiveFilterAndHeartbeat(t *testing.T) {
	env := startFake(t)
	ctx := testCtx(t)
	hb := make(chan string, 10)
	var got []*Event
	go func() {
		time.Sleep(300 * time.Millisecond)
		r1, _ := env.client.Submit(ctx, "other", nil)
		r2, _ := env.client.Submit(ctx, "add", JSONArgs(1, 2))
		env.fake.complete(r1.GetId(), "1")
		env.fake.complete(r2.GetId(), "3")
	}()
	for ev, err := range env.client.StreamEvents(ctx, EventFilter{Tasks: []string{"add"}, States: []RunState{StateCompleted},
		HeartbeatInterval: 100 * time.Millisecond}, WithHeartbeatFunc(func(c string) { hb <- c })) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
		break
	}
	if len(got) != 1 || got[0].GetTask() != "add" || got[0].GetType() != EventCompleted {
		t.Fatalf("got %v", got)
	}
	if r := lastRequest[*taskwirev1.StreamEventsRequest](env.fake); r.GetHeartbeatIntervalMs() != 100 ||
		!slices.Equal(r.GetStates(), []RunState{StateCompleted}) || r.GetAfterCursor() != "" {
		t.Fatalf("request %v", r)
	}
	select {
	case <-hb:
	default:
		t.Fatal("no heartbeat seen")
	}
}

func TestSubmitBatchAndDeduplicated(t *testing.T) {
	env := startFake(t)
	ctx := testCtx(t)
	var d1, d2, d3 bool
	runs, err := env.client.SubmitBatch(ctx, []BatchItem{
		{Task: "add", Args: JSONArgs(1, 1), Options: []SubmitOption{WithIdempotencyKey("k"), Deduplicated(&d1)}},
		{Task: "add", Args: JSONArgs(1, 1), Options: []SubmitOption{WithIdempotencyKey("k"), Deduplicated(&d2)}},
		{Task: "echo", Args: JSONArgs("x"), Options: []SubmitOption{WithQueue("q")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || runs[0].GetId() != runs[1].GetId() || runs[2].GetTask() != "echo" || runs[2].GetQueue() != "q" || d1 || !d2 {
		t.Fatalf("batch: %v d1=%v d2=%v", runs, d1, d2)
	}
	run, err := env.client.Submit(ctx, "add", JSONArgs(1, 1), WithIdempotencyKey("k"), Deduplicated(&d3))
	if err != nil || run.GetId() != runs[0].GetId() || !d3 {
		t.Fatalf("dedup submit: %v %v %v", run, d3, err)
	}
	_, err = env.client.SubmitBatch(ctx, []BatchItem{{Task: "add"}, {Task: ""}})
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("invalid batch: %v", err)
	}
	_, err = env.client.SubmitBatch(ctx, []BatchItem{{Task: "add", Args: JSONArgs(func() {})}})
	if err == nil || !strings.Contains(err.Error(), "batch item 0") {
		t.Fatalf("unencodable item: %v", err)
	}
}

func TestListRuns(t *testing.T) {
	env := startFake(t)
	ctx := testCtx(t)
	var ids []string
	for i := range 5 {
		r, err := env.client.Submit(ctx, "add", JSONArgs(i, i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.GetId())
	}
	env.client.Submit(ctx, "other", nil)
	env.fake.complete(ids[4], "8")

	page, err := env.client.ListRuns(ctx, ListFilter{Task: "add", PageSize: 2})
	if err != nil || len(page.Runs) != 2 || page.Runs[0].GetId() != ids[4] || page.NextPageToken == "" {
		t.Fatalf("page 1: %v %v", page, err)
	}
	var all []string
	for r, err := range env.client.AllRuns(ctx, ListFilter{Task: "add", PageSize: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, r.GetId())
	}
	slices.Reverse(all)
	if !slices.Equal(all, ids) {
		t.Fatalf("AllRuns %v, want %v", all, ids)
	}
	page, err = env.client.ListRuns(ctx, ListFilter{States: []RunState{StateCompleted}, Queue: "default"})
	if err != nil || len(page.Runs) != 1 || page.Runs[0].GetId() != ids[4] {
		t.Fatalf("states filter: %v %v", page, err)
	}
	want := &taskwirev1.ListRunsRequest{States: []RunState{StateCompleted}, Queue: "default"}
	if got := lastRequest[*taskwirev1.ListRunsRequest](env.fake); !proto.Equal(got, want) {
		t.Fatalf("request %v", got)
	}
	_, err = env.client.ListRuns(ctx, ListFilter{PageToken: "junk"})
	for _, err := range env.client.AllRuns(ctx, ListFilter{PageToken: "junk"}) {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("AllRuns error: %v", err)
		}
	}
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad token: %v", err)
	}
}

func TestToken(t *testing.T) {
	env := startFake(t, WithToken("s3cret"), WithInsecureToken())
	ctx := testCtx(t)
	if _, err := env.client.Submit(ctx, "add", nil); err != nil {
		t.Fatal(err)
	}
	env.fake.mu.Lock()
	md := env.fake.md[len(env.fake.md)-1]
	env.fake.mu.Unlock()
	if got := md.Get("authorization"); !slices.Equal(got, []string{"Bearer s3cret"}) {
		t.Fatalf("authorization %v", got)
	}
	if ua := strings.Join(md.Get("user-agent"), " "); !strings.Contains(ua, "taskwire-go/"+Version) {
		t.Fatalf("user agent %q", ua)
	}

	// A token over plaintext needs an explicit opt-in.
	if _, err := Dial(ctx, env.addr, WithToken("s3cret")); err == nil || !strings.Contains(err.Error(), "WithToken") {
		t.Fatalf("token without TLS: %v", err)
	}
}

func TestDialOptions(t *testing.T) {
	t.Setenv(AddressEnv, "")
	if got := ResolveAddress(""); got != "localhost:50051" {
		t.Fatalf("default %q", got)
	}
	t.Setenv(AddressEnv, "broker:1234")
	if got := ResolveAddress(""); got != "broker:1234" {
		t.Fatalf("env %q", got)
	}
	if got := ResolveAddress("x:1"); got != "x:1" {
		t.Fatalf("explicit %q", got)
	}

	env := startFake(t)
	ctx := testCtx(t)
	var intercepted bool
	c, err := Dial(ctx, env.addr, WithBlock(), WithDialOptions(grpc.WithUnaryInterceptor(
		func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			intercepted = true
			return invoker(ctx, method, req, reply, cc, opts...)
		})))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Address() != env.addr {
		t.Fatalf("address %q", c.Address())
	}
	if _, err := c.Submit(ctx, "add", nil); err != nil || !intercepted {
		t.Fatalf("interceptor: %v %v", intercepted, err)
	}

	// WithBlock is bounded by ctx when nothing listens.
	bctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := Dial(bctx, "127.0.0.1:1", WithBlock()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blocking dial: %v", err)
	}

	// NewClient wraps a caller's connection; Close leaves it open.
	conn, err := grpc.NewClient(env.addr, grpc.WithTransportCredentials(insecureCreds()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	nc := NewClient(conn)
	nc.Close()
	if _, err := nc.Submit(ctx, "add", nil); err != nil {
		t.Fatal(err)
	}
	if nc.Raw() == nil {
		t.Fatal("Raw")
	}
}

func TestEnums(t *testing.T) {
	if s, ok := ParseRunState("RUN_STATE_COMPLETED"); !ok || s != StateCompleted || !IsTerminal(s) {
		t.Fatal("ParseRunState")
	}
	if _, ok := ParseRunState("nope"); ok {
		t.Fatal("ParseRunState nope")
	}
	if e, ok := ParseEventType("EVENT_TYPE_STARTED"); !ok || e != EventStarted || e.String() != "EVENT_TYPE_STARTED" {
		t.Fatal("ParseEventType")
	}
	for _, s := range []RunState{StateScheduled, StatePending, StateRunning, StateAwaitingRetry} {
		if IsTerminal(s) {
			t.Fatalf("%v terminal", s)
		}
	}
}

// optionsFromProto (the conformance runner's mapping) must cover every
// SubmitOptions field: a fully populated message survives the round trip
// through the functional options.
func TestOptionsFromProtoRoundTrip(t *testing.T) {
	env := startFake(t)
	ctx := testCtx(t)
	full := &taskwirev1.SubmitOptions{
		IdempotencyKey: "k", Queue: "q", Priority: 3,
		Retry: &taskwirev1.RetryPolicy{MaxRetries: 2, InitialDelayMs: 10, BackoffMultiplier: 3, MaxDelayMs: 100,
			Jitter: 0.5, DelaysMs: []int64{1, 2}, RetryOn: []string{"A"}, NeverRetryOn: []string{"B"}},
		TimeoutMs: 5, ScheduledAt: timestamppb.New(time.Unix(2000000000, 123000000)), DelayMs: 6,
		Labels: map[string]string{"x": "y"}, CacheKey: "c", CacheTtlMs: 7, RefreshCache: true,
		ConcurrencyKey: "ck", ScheduleToStartTimeoutMs: 8,
		WaitFor: []string{"01890000-0000-7000-8000-000000000000"}, RunIfDependenciesFail: true,
	}
	// Every field must be set above, or the check proves nothing.
	fields := full.ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		if !full.ProtoReflect().Has(fields.Get(i)) {
			t.Fatalf("test message lacks field %s", fields.Get(i).Name())
		}
	}
	if _, err := env.client.Submit(ctx, "add", nil, optionsFromProto(full)...); err != nil {
		t.Fatal(err)
	}
	if got := lastRequest[*taskwirev1.SubmitRequest](env.fake).GetOptions(); !proto.Equal(got, full) {
		t.Fatalf("round trip:\n got %v\nwant %v", got, full)
	}
}

func TestCompareCursors(t *testing.T) {
	if compareCursors("9", "10") >= 0 || compareCursors("10", "9") <= 0 || compareCursors("5", "5") != 0 || compareCursors("a", "b") >= 0 {
		t.Fatal("compareCursors")
	}
}

// A broker shutting down ends open streams with OK; the client resumes by
// cursor unless UntilTerminal is satisfied, for live streams too.
func TestStreamEventsResumesAfterCleanShutdownEnd(t *testing.T) {
	env := startFake(t)
	ctx := testCtx(t)
	run, _ := env.client.Submit(ctx, "add", JSONArgs(1, 2))
	env.fake.transition(run.GetId(), StateRunning, EventStarted, nil)
	env.fake.mu.Lock()
	env.fake.endStreamsAfter, env.fake.endAfterEvents = 1, 1
	env.fake.mu.Unlock()
	go func() {
		time.Sleep(100 * time.Millisecond)
		env.fake.transition(run.GetId(), StateCompleted, EventCompleted, nil)
	}()
	evs, err := collect(t, env.client.StreamEvents(ctx, EventFilter{RunIDs: []string{run.GetId()}, UntilTerminal: true},
		WithReconnectBackoff(time.Millisecond, time.Millisecond)))
	want := []string{"EVENT_TYPE_SUBMITTED", "EVENT_TYPE_STARTED", "EVENT_TYPE_COMPLETED"}
	if err != nil || !slices.Equal(eventTypes(evs), want) {
		t.Fatalf("until terminal: %v %v", eventTypes(evs), err)
	}
	if reqs := allRequests[*taskwirev1.StreamEventsRequest](env.fake); len(reqs) != 2 || reqs[1].GetAfterCursor() != evs[0].GetCursor() {
		t.Fatalf("requests %v", reqs)
	}

	// Resuming after the terminal event: the broker ends at once, and so
	// does the iteration (no reconnect loop).
	evs, err = collect(t, env.client.StreamEvents(ctx, EventFilter{RunIDs: []string{run.GetId()}, AfterCursor: evs[2].GetCursor(), UntilTerminal: true}))
	if err != nil || len(evs) != 0 {
		t.Fatalf("after terminal: %v %v", evs, err)
	}

	// A live stream (no UntilTerminal) is resumed too.
	env.fake.mu.Lock()
	env.fake.endStreamsAfter, env.fake.endAfterEvents = 1, 1
	env.fake.mu.Unlock()
	go func() {
		time.Sleep(100 * time.Millisecond)
		for i := range 3 {
			env.client.Submit(ctx, "live", JSONArgs(i))
		}
	}()
	var n int
	for ev, err := range env.client.StreamEvents(ctx, EventFilter{Tasks: []string{"live"}}, WithReconnectBackoff(time.Millisecond, time.Millisecond)) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetTask() != "live" {
			t.Fatalf("event %v", ev)
		}
		if n++; n == 3 {
			break
		}
	}
}

func TestSchedulesRoundTrip(t *testing.T) {
	env := startFake(t)
	ctx := testCtx(t)
	s, err := env.client.CreateSchedule(ctx, ScheduleSpec{Name: "nightly", Cron: "0 2 * * *", Timezone: "Europe/Paris", Task: "add", Args: JSONArgs(1, 2), Options: []SubmitOption{WithQueue("batch")}})
	if err != nil {
		t.Fatal(err)
	}
	req := lastRequest[*taskwirev1.CreateScheduleRequest](env.fake).GetSchedule()
	if req.GetCron() != "0 2 * * *" || req.GetTimezone() != "Europe/Paris" || req.GetRun().GetTask() != "add" || req.GetRun().GetOptions().GetQueue() != "batch" || string(req.GetRun().GetArgs().GetData()) != "[1,2]" {
		t.Fatalf("request %v", req)
	}
	if s.GetName() != "nightly" {
		t.Fatal(s)
	}
	if list, err := env.client.ListSchedules(ctx); err != nil || len(list) != 1 {
		t.Fatal(list, err)
	}
	if p, err := env.client.PauseSchedule(ctx, "nightly"); err != nil || !p.GetPaused() {
		t.Fatal(p, err)
	}
	if r, err := env.client.ResumeSchedule(ctx, "nightly"); err != nil || r.GetPaused() {
		t.Fatal(r, err)
	}
	if err := env.client.DeleteSchedule(ctx, "nightly"); err != nil {
		t.Fatal(err)
	}
	if err := env.client.DeleteSchedule(ctx, "nightly"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}
