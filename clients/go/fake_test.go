package taskwire

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	taskwirev1 "github.com/taskwire/taskwire/clients/go/gen/taskwire/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// fakeBroker is an in-memory TaskService with just enough behaviour for
// the unit tests. Runs only change when a test calls transition. Cursors are
// 1-based decimal positions in one global event log.
type fakeBroker struct {
	taskwirev1.UnimplementedTaskServiceServer

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every new event
	runs      map[string]*Run
	schedules map[string]*Schedule
	order     []string // run ids, oldest first
	events    []*Event
	idem      map[string]string
	reqIDs    map[string]string // request id -> run id (see submit)
	nextID    int
	maxArgs   int // bytes; Submit over it is RESOURCE_EXHAUSTED
	requests  []proto.Message
	md        []metadata.MD

	// Fault injection.
	dropStreamsAfter   int // end this many streams with UNAVAILABLE ...
	dropAfterEvents    int // ... after sending this many events
	hangStreamsAfter   int // block this many streams (for connection kills) ...
	hangAfterEvents    int // ... after sending this many events
	hung               chan struct{}
	endStreamsAfter    int  // end this many streams cleanly (broker shutdown) ...
	endAfterEvents     int  // ... after sending this many events
	unavailableStatus  int  // fail this many GetStatus calls with UNAVAILABLE
	ignoreWaitTimeouts bool // answer GetStatus at once
	// faults are injected by the server interceptor, per method name
	// ("Submit"), one per call in turn.
	faults map[string][]fault

	// simulate runs the conformance worker's cf-* tasks in-process.
	simulate bool
}

// uuidV7Pattern: a version 7 UUID (RFC 9562), lower case, as request ids are sent.
var uuidV7Pattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

var runIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// fault is one injected failure of a unary call.
type fault struct {
	err error
	// lost: the method runs, then its answer is replaced by err (a node
	// lost after doing the work); else err is returned before it runs.
	lost bool
}

// inject queues faults for the next calls of method ("Submit", ...).
func (f *fakeBroker) inject(method string, faults ...fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[method] = append(f.faults[method], faults...)
}

// failN is n faults of code and message, returned before the method runs.
func failN(n int, code codes.Code, msg string) []fault {
	out := make([]fault, n)
	for i := range out {
		out[i] = fault{err: status.Error(code, msg)}
	}
	return out
}

// interceptor applies the injected faults. A call failed before its
// method runs is recorded here, so tests see every attempt.
func (f *fakeBroker) interceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:]
	f.mu.Lock()
	var ft *fault
	if q := f.faults[method]; len(q) > 0 {
		ft, f.faults[method] = &q[0], q[1:]
	}
	f.mu.Unlock()
	switch {
	case ft == nil:
		return handler(ctx, req)
	case ft.lost:
		if _, err := handler(ctx, req); err != nil {
			return nil, err
		}
		return nil, ft.err
	default:
		f.record(ctx, req.(proto.Message))
		return nil, ft.err
	}
}

// calls counts the recorded requests of type T.
func calls[T proto.Message](f *fakeBroker) int { return len(allRequests[T](f)) }

func newFakeBroker() *fakeBroker {
	return &fakeBroker{
		faults:    map[string][]fault{},
		changed:   make(chan struct{}),
		runs:      map[string]*Run{},
		schedules: map[string]*Schedule{},
		idem:      map[string]string{},
		reqIDs:    map[string]string{},
		maxArgs:   1 << 16,
		hung:      make(chan struct{}, 16),
	}
}

func (f *fakeBroker) record(ctx context.Context, req proto.Message) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, proto.Clone(req))
	f.md = append(f.md, md)
}

// lastRequest returns the last request of type T.
func lastRequest[T proto.Message](f *fakeBroker) T {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.requests) - 1; i >= 0; i-- {
		if r, ok := f.requests[i].(T); ok {
			return r
		}
	}
	var zero T
	return zero
}

func allRequests[T proto.Message](f *fakeBroker) []T {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []T
	for _, r := range f.requests {
		if t, ok := r.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// appendEvent records an event of run (f.mu held).
func (f *fakeBroker) appendEvent(run *Run, typ EventType) {
	cursor := strconv.Itoa(len(f.events) + 1)
	run.Revision = uint64(len(f.events) + 1)
	run.LastEvent = typ
	run.UpdatedAt = timestamppb.Now()
	f.events = append(f.events, &Event{
		Cursor: cursor, RunId: run.Id, Task: run.Task, Type: typ, State: run.State,
		Attempt: run.Attempt, Time: timestamppb.Now(), Run: proto.Clone(run).(*Run),
	})
	close(f.changed)
	f.changed = make(chan struct{})
}

// transition moves a run to state with an event, after mutate.
func (f *fakeBroker) transition(id string, state RunState, typ EventType, mutate func(*Run)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	run := f.runs[id]
	run.State = state
	if mutate != nil {
		mutate(run)
	}
	f.appendEvent(run, typ)
}

// complete runs a run through STARTED and COMPLETED with a JSON result.
func (f *fakeBroker) complete(id string, resultJSON string) {
	f.transition(id, StateRunning, EventStarted, func(r *Run) { r.Attempt++ })
	f.transition(id, StateCompleted, EventCompleted, func(r *Run) {
		r.Result = &Payload{ContentType: ContentTypeJSON, Data: []byte(resultJSON)}
	})
}

func (f *fakeBroker) validateSubmit(req *taskwirev1.SubmitRequest) error {
	if req.GetTask() == "" || !regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`).MatchString(req.GetTask()) {
		return status.Error(codes.InvalidArgument, "task: must be 1-128 characters of [A-Za-z0-9_-]")
	}
	if len(req.GetArgs().GetData()) > f.maxArgs {
		return status.Error(codes.ResourceExhausted, "args: payload over the limit")
	}
	if ct := req.GetArgs().GetContentType(); (ct == "" || ct == ContentTypeJSON) && !json.Valid(req.GetArgs().GetData()) {
		return status.Error(codes.InvalidArgument, "args: data is not valid JSON")
	}
	if rid := req.GetRequestId(); rid != "" && !runIDPattern.MatchString(strings.ToLower(rid)) {
		return status.Error(codes.InvalidArgument, "request_id: not a UUID")
	}
	return nil
}

// submit creates the run, or answers from an earlier one with the same
// idempotency key or (without a key) request id, like the broker: a request
// id that is a UUIDv7 within 60 s of now becomes the run id, another is kept
// as a key; one used for another task is ALREADY_EXISTS.
func (f *fakeBroker) submit(req *taskwirev1.SubmitRequest) (*taskwirev1.SubmitResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rid := strings.ToLower(req.GetRequestId())
	if k := req.GetOptions().GetIdempotencyKey(); k != "" {
		rid = "" // the key decides
		if id, ok := f.idem[k]; ok {
			return &taskwirev1.SubmitResponse{Run: proto.Clone(f.runs[id]).(*Run), Deduplicated: true}, nil
		}
	}
	if id, ok := f.reqIDs[rid]; ok && rid != "" {
		if f.runs[id].GetTask() != req.GetTask() {
			return nil, status.Errorf(codes.AlreadyExists, "request_id %s was already used for another Submit", rid)
		}
		return &taskwirev1.SubmitResponse{Run: proto.Clone(f.runs[id]).(*Run), Deduplicated: true}, nil
	}
	f.nextID++
	id := fmt.Sprintf("01890000-0000-7000-8000-%012d", f.nextID)
	if u, err := uuid.Parse(rid); err == nil && u.Version() == 7 {
		if sec, nsec := u.Time().UnixTime(); time.Since(time.Unix(sec, nsec)).Abs() <= time.Minute {
			id = rid
		}
	}
	if rid != "" {
		f.reqIDs[rid] = id
	}
	state := StatePending
	if req.GetOptions().GetDelayMs() > 0 || req.GetOptions().GetScheduledAt() != nil {
		state = StateScheduled
	}
	run := &Run{Id: id, Task: req.GetTask(), State: state, Args: req.GetArgs(), Options: req.GetOptions(),
		Queue: cmpOr(req.GetOptions().GetQueue(), "default"), CreatedAt: timestamppb.Now()}
	f.runs[id] = run
	f.order = append(f.order, id)
	if k := req.GetOptions().GetIdempotencyKey(); k != "" {
		f.idem[k] = id
	}
	f.appendEvent(run, EventSubmitted)
	if f.simulate && state == StatePending {
		go f.execute(id)
	}
	return &taskwirev1.SubmitResponse{Run: proto.Clone(run).(*Run)}, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (f *fakeBroker) Submit(ctx context.Context, req *taskwirev1.SubmitRequest) (*taskwirev1.SubmitResponse, error) {
	f.record(ctx, req)
	if err := f.validateSubmit(req); err != nil {
		return nil, err
	}
	return f.submit(req)
}

func (f *fakeBroker) SubmitBatch(ctx context.Context, req *taskwirev1.SubmitBatchRequest) (*taskwirev1.SubmitBatchResponse, error) {
	f.record(ctx, req)
	for i, r := range req.GetRuns() {
		if err := f.validateSubmit(r); err != nil {
			return nil, status.Errorf(status.Code(err), "runs[%d].%s", i, status.Convert(err).Message())
		}
	}
	resp := &taskwirev1.SubmitBatchResponse{}
	for i, r := range req.GetRuns() {
		item, err := f.submit(r)
		if err != nil {
			return nil, status.Errorf(status.Code(err), "runs[%d].%s", i, status.Convert(err).Message())
		}
		resp.Runs = append(resp.Runs, item)
	}
	return resp, nil
}

func (f *fakeBroker) GetStatus(ctx context.Context, req *taskwirev1.GetStatusRequest) (*taskwirev1.GetStatusResponse, error) {
	f.record(ctx, req)
	if !runIDPattern.MatchString(req.GetRunId()) {
		return nil, status.Error(codes.InvalidArgument, "run_id: not a run id")
	}
	if req.GetWaitTimeoutMs() < 0 || req.GetWaitTimeoutMs() > 300000 {
		return nil, status.Error(codes.InvalidArgument, "wait_timeout_ms: must be 0-300000")
	}
	f.mu.Lock()
	if f.unavailableStatus > 0 {
		f.unavailableStatus--
		f.mu.Unlock()
		return nil, status.Error(codes.Unavailable, "nats: no servers available")
	}
	ignore := f.ignoreWaitTimeouts
	f.mu.Unlock()
	deadline := time.After(time.Duration(req.GetWaitTimeoutMs()) * time.Millisecond)
	for {
		f.mu.Lock()
		run, ok := f.runs[req.GetRunId()]
		if !ok {
			f.mu.Unlock()
			return nil, status.Errorf(codes.NotFound, "run %s not found", req.GetRunId())
		}
		run = proto.Clone(run).(*Run)
		changed := f.changed
		f.mu.Unlock()
		if IsTerminal(run.GetState()) || req.GetWaitTimeoutMs() == 0 || ignore {
			return &taskwirev1.GetStatusResponse{Run: run}, nil
		}
		select {
		case <-changed:
		case <-deadline:
			return &taskwirev1.GetStatusResponse{Run: run}, nil
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
}

func (f *fakeBroker) Cancel(ctx context.Context, req *taskwirev1.CancelRequest) (*taskwirev1.CancelResponse, error) {
	f.record(ctx, req)
	f.mu.Lock()
	defer f.mu.Unlock()
	run, ok := f.runs[req.GetRunId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "run %s not found", req.GetRunId())
	}
	switch run.State {
	case StateCompleted, StateFailed:
		return nil, status.Errorf(codes.FailedPrecondition, "run %s is %s", run.Id, run.State)
	case StateCancelled:
	default:
		run.State = StateCancelled
		run.Error = &Failure{Type: "Cancelled", Message: "cancelled: " + req.GetReason()}
		f.appendEvent(run, EventCancelled)
	}
	return &taskwirev1.CancelResponse{Run: proto.Clone(run).(*Run)}, nil
}

// Schedules are stored only; the fake does not fire them.
func (f *fakeBroker) CreateSchedule(ctx context.Context, req *taskwirev1.CreateScheduleRequest) (*taskwirev1.CreateScheduleResponse, error) {
	f.record(ctx, req)
	f.mu.Lock()
	defer f.mu.Unlock()
	s := proto.Clone(req.GetSchedule()).(*Schedule)
	f.schedules[s.Name] = s
	return &taskwirev1.CreateScheduleResponse{Schedule: proto.Clone(s).(*Schedule)}, nil
}

func (f *fakeBroker) ListSchedules(ctx context.Context, req *taskwirev1.ListSchedulesRequest) (*taskwirev1.ListSchedulesResponse, error) {
	f.record(ctx, req)
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &taskwirev1.ListSchedulesResponse{}
	for _, name := range slices.Sorted(maps.Keys(f.schedules)) {
		out.Schedules = append(out.Schedules, proto.Clone(f.schedules[name]).(*Schedule))
	}
	return out, nil
}

func (f *fakeBroker) PauseSchedule(ctx context.Context, req *taskwirev1.PauseScheduleRequest) (*taskwirev1.PauseScheduleResponse, error) {
	f.record(ctx, req)
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.schedules[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "schedule %s not found", req.GetName())
	}
	s.Paused = req.GetPaused()
	return &taskwirev1.PauseScheduleResponse{Schedule: proto.Clone(s).(*Schedule)}, nil
}

func (f *fakeBroker) DeleteSchedule(ctx context.Context, req *taskwirev1.DeleteScheduleRequest) (*taskwirev1.DeleteScheduleResponse, error) {
	f.record(ctx, req)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.schedules[req.GetName()]; !ok {
		return nil, status.Errorf(codes.NotFound, "schedule %s not found", req.GetName())
	}
	delete(f.schedules, req.GetName())
	return &taskwirev1.DeleteScheduleResponse{}, nil
}

func (f *fakeBroker) Retry(ctx context.Context, req *taskwirev1.RetryRequest) (*taskwirev1.RetryResponse, error) {
	f.record(ctx, req)
	f.mu.Lock()
	defer f.mu.Unlock()
	run, ok := f.runs[req.GetRunId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "run %s not found", req.GetRunId())
	}
	if run.State != StateFailed && run.State != StateCancelled {
		return nil, status.Errorf(codes.FailedPrecondition, "run %s is %s", run.Id, run.State)
	}
	run.State = StatePending
	f.appendEvent(run, EventResubmitted)
	if f.simulate {
		go f.execute(run.Id)
	}
	return &taskwirev1.RetryResponse{Run: proto.Clone(run).(*Run)}, nil
}

func (f *fakeBroker) ListRuns(ctx context.Context, req *taskwirev1.ListRunsRequest) (*taskwirev1.ListRunsResponse, error) {
	f.record(ctx, req)
	f.mu.Lock()
	defer f.mu.Unlock()
	var matched []*Run
	for _, id := range slices.Backward(f.order) {
		r := f.runs[id]
		if (req.GetTask() == "" || r.Task == req.GetTask()) &&
			(len(req.GetStates()) == 0 || slices.Contains(req.GetStates(), r.State)) &&
			(req.GetQueue() == "" || r.Queue == req.GetQueue()) {
			matched = append(matched, proto.Clone(r).(*Run))
		}
	}
	size := int(req.GetPageSize())
	if size == 0 {
		size = 50
	}
	offset := 0
	if t := req.GetPageToken(); t != "" {
		var err error
		if offset, err = strconv.Atoi(t); err != nil {
			return nil, status.Error(codes.InvalidArgument, "page_token: invalid")
		}
	}
	resp := &taskwirev1.ListRunsResponse{}
	end := min(offset+size, len(matched))
	if offset < end {
		resp.Runs = matched[offset:end]
	}
	if end < len(matched) {
		resp.NextPageToken = strconv.Itoa(end)
	}
	return resp, nil
}

func (f *fakeBroker) StreamEvents(req *taskwirev1.StreamEventsRequest, stream taskwirev1.TaskService_StreamEventsServer) error {
	ctx := stream.Context()
	f.record(ctx, req)
	pos := 0 // index of the next event to consider
	f.mu.Lock()
	switch {
	case req.GetAfterCursor() != "":
		n, err := strconv.Atoi(req.GetAfterCursor())
		if err != nil || n < 0 || n > len(f.events) {
			f.mu.Unlock()
			return status.Error(codes.InvalidArgument, "after_cursor: invalid cursor")
		}
		pos = n
	case len(req.GetRunIds()) > 0:
		pos = 0
	default:
		pos = len(f.events)
	}
	drop := f.dropStreamsAfter > 0
	if drop {
		f.dropStreamsAfter--
	}
	hang := f.hangStreamsAfter > 0
	if hang {
		f.hangStreamsAfter--
	}
	end := f.endStreamsAfter > 0
	if end {
		f.endStreamsAfter--
	}
	f.mu.Unlock()
	interval := time.Duration(req.GetHeartbeatIntervalMs()) * time.Millisecond
	if interval == 0 {
		interval = 15 * time.Second
	}
	sent := 0
	for {
		f.mu.Lock()
		pending := f.events[pos:]
		pos = len(f.events)
		changed := f.changed
		allTerminal := len(req.GetRunIds()) > 0
		for _, id := range req.GetRunIds() {
			if r, ok := f.runs[id]; !ok || !IsTerminal(r.State) {
				allTerminal = false
			}
		}
		f.mu.Unlock()
		for _, ev := range pending {
			if len(req.GetRunIds()) > 0 && !slices.Contains(req.GetRunIds(), ev.RunId) ||
				len(req.GetTasks()) > 0 && !slices.Contains(req.GetTasks(), ev.Task) ||
				len(req.GetStates()) > 0 && !slices.Contains(req.GetStates(), ev.State) {
				continue
			}
			if drop && sent == f.dropAfterEvents {
				return status.Error(codes.Unavailable, "fake: stream dropped")
			}
			if end && sent == f.endAfterEvents {
				return nil
			}
			if hang && sent == f.hangAfterEvents {
				f.hung <- struct{}{}
				<-ctx.Done()
				return ctx.Err()
			}
			if err := stream.Send(&taskwirev1.StreamEventsResponse{Kind: &taskwirev1.StreamEventsResponse_Event{Event: ev}}); err != nil {
				return err
			}
			sent++
		}
		if req.GetUntilTerminal() && allTerminal {
			return nil
		}
		if hang && sent >= f.hangAfterEvents {
			f.hung <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}
		select {
		case <-changed:
		case <-time.After(interval):
			hb := &taskwirev1.Heartbeat{Time: timestamppb.Now(), Cursor: strconv.Itoa(pos)}
			if err := stream.Send(&taskwirev1.StreamEventsResponse{Kind: &taskwirev1.StreamEventsResponse_Heartbeat{Heartbeat: hb}}); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// trackingListener remembers accepted connections so a test can cut them.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

// cut closes every accepted connection (the server keeps listening).
func (l *trackingListener) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

type fakeEnv struct {
	fake   *fakeBroker
	lis    *trackingListener
	addr   string
	client *Client
}

// startFake serves a fakeBroker on 127.0.0.1:0 and dials it.
func startFake(t *testing.T, opts ...ClientOption) *fakeEnv {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis := &trackingListener{Listener: l}
	fake := newFakeBroker()
	srv := grpc.NewServer(grpc.UnaryInterceptor(fake.interceptor))
	taskwirev1.RegisterTaskServiceServer(srv, fake)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	addr := l.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := Dial(ctx, addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return &fakeEnv{fake: fake, lis: lis, addr: addr, client: client}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
