package taskwire

// The conformance runner: plays ../../proto/conformance/scenarios.json (see
// the README beside it) against the live broker at TASKWIRE_ADDRESS, with
// the conformance worker serving the cf-* tasks.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	taskwirev1 "github.com/taskwire/taskwire/clients/go/gen/taskwire/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

const scenariosPath = "../../proto/conformance/scenarios.json"

type scenarioFile struct {
	Version   int        `json:"version"`
	About     string     `json:"about"`
	Scenarios []scenario `json:"scenarios"`
}

type scenario struct {
	Name  string            `json:"name"`
	Steps []json.RawMessage `json:"steps"`
	// Broker "auth": played against the auth broker (TASKWIRE_AUTH_ADDRESS);
	// Token: the scenario's default caller, a name from tokens.json.
	Broker string `json:"broker"`
	Token  string `json:"token"`
}

type batchItem struct {
	Task    string          `json:"task"`
	Args    json.RawMessage `json:"args"`
	Options json.RawMessage `json:"options"`
}

// step has every field of every op; decoding rejects unknown fields so a
// scenario using something this runner does not know fails loudly.
type step struct {
	Op                   string          `json:"op"`
	Task                 string          `json:"task"`
	Args                 json.RawMessage `json:"args"`
	Options              json.RawMessage `json:"options"`
	As                   json.RawMessage `json:"as"` // a name, or a list for submit_batch
	ExpectError          string          `json:"expect_error"`
	ErrorContains        string          `json:"error_contains"`
	ContentType          string          `json:"content_type"`
	Data                 *string         `json:"data"`
	DataSize             *int            `json:"data_size"`
	Items                []batchItem     `json:"items"`
	Run                  string          `json:"run"`
	RunID                string          `json:"run_id"`
	WaitTimeoutMs        *int64          `json:"wait_timeout_ms"`
	TimeoutMs            int64           `json:"timeout_ms"`
	State                string          `json:"state"`
	Result               json.RawMessage `json:"result"`
	ResultLength         *int            `json:"result_length"`
	ErrorType            *string         `json:"error_type"`
	ErrorMessageContains *string         `json:"error_message_contains"`
	Attempt              *int32          `json:"attempt"`
	Attempts             *int            `json:"attempts"`
	Runs                 []string        `json:"runs"`
	Exactly              []string        `json:"exactly"`
	ContainsInOrder      []string        `json:"contains_in_order"`
	AfterIndex           *int            `json:"after_index"`
	AfterCursor          *string         `json:"after_cursor"`
	Token                *string         `json:"token"`
	Namespace            *string         `json:"namespace"`
	LogMessages          []string        `json:"log_messages"`
	Progress             *float64        `json:"progress"`
}

// loadScenarios reads the scenario file with ${uniq} replaced.
func loadScenarios(t *testing.T, uniq string) []scenario {
	t.Helper()
	raw, err := os.ReadFile(scenariosPath)
	if err != nil {
		t.Fatalf("reading scenarios: %v", err)
	}
	raw = bytes.ReplaceAll(raw, []byte("${uniq}"), []byte(uniq))
	var f scenarioFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("parsing %s: %v", scenariosPath, err)
	}
	if f.Version != 1 {
		t.Fatalf("%s: version %d, this runner knows version 1", scenariosPath, f.Version)
	}
	return f.Scenarios
}

func TestConformanceScenariosParse(t *testing.T) {
	// Runs without a broker: every step of every scenario must decode and
	// name a known op, so the live runner cannot trip over the file itself.
	for _, sc := range loadScenarios(t, "parse") {
		for i, raw := range sc.Steps {
			st, err := decodeStep(raw)
			if err != nil {
				t.Errorf("%s step %d: %v", sc.Name, i, err)
				continue
			}
			if !slices.Contains(knownOps, st.Op) {
				t.Errorf("%s step %d: unknown op %q", sc.Name, i, st.Op)
			}
			if len(st.Options) > 0 {
				if _, err := parseOptions(st.Options); err != nil {
					t.Errorf("%s step %d: options: %v", sc.Name, i, err)
				}
			}
		}
	}
}

var knownOps = []string{"submit", "submit_raw", "submit_batch", "get_status", "wait", "wait_state",
	"expect_status", "cancel", "retry", "expect_same_id", "expect_events", "expect_resume", "stream_events", "expect_listed",
	"expect_not_listed", "expect_different_id"}

func decodeStep(raw json.RawMessage) (*step, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var st step
	if err := dec.Decode(&st); err != nil {
		return nil, err
	}
	return &st, nil
}

func TestConformance(t *testing.T) {
	addr := os.Getenv(AddressEnv)
	if addr == "" {
		t.Skip("TASKWIRE_ADDRESS is not set: the conformance scenarios need a live broker with the conformance worker " +
			"(npx tsx cli/src/main.ts dev --worker examples/conformance/tasks.ts, then TASKWIRE_ADDRESS=127.0.0.1:50051)")
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	uniq := fmt.Sprintf("go-%d-%s", time.Now().UnixMilli(), hex.EncodeToString(rnd[:]))
	scenarios := loadScenarios(t, uniq)

	client, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer client.Close()

	runScenarios(t, client, scenarios)
}

// runScenarios plays each scenario as a subtest (the auth scenarios only in
// TestConformanceAuth).
func runScenarios(t *testing.T, client *Client, scenarios []scenario) {
	playScenarios(t, scenarios, false, func(string) *Client { return client })
}

// playScenarios plays the open scenarios, or with auth the auth ones, each
// step with the client of its token name.
func playScenarios(t *testing.T, scenarios []scenario, auth bool, clientFor func(token string) *Client) {
	for _, sc := range scenarios {
		if (sc.Broker == "auth") != auth {
			continue
		}
		t.Run(sc.Name, func(t *testing.T) {
			r := &runner{t: t, c: clientFor(sc.Token), vars: map[string]string{}}
			for i, raw := range sc.Steps {
				st, err := decodeStep(raw)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				r.step = fmt.Sprintf("step %d (%s)", i, st.Op)
				name := sc.Token
				if st.Token != nil {
					name = *st.Token
				}
				r.c = clientFor(name)
				r.do(st)
			}
		})
	}
}

// TestConformanceAuth plays the auth scenarios against TASKWIRE_AUTH_ADDRESS,
// a broker with ../../proto/conformance/tokens.json as its static tokens and,
// with TASKWIRE_AUTH_TLS_DIR (ca.crt, client.crt, client.key), mTLS.
func TestConformanceAuth(t *testing.T) {
	addr := os.Getenv("TASKWIRE_AUTH_ADDRESS")
	if addr == "" {
		t.Skip("TASKWIRE_AUTH_ADDRESS is not set: the auth scenarios need a broker with proto/conformance/tokens.json as its tokens file")
	}
	raw, err := os.ReadFile("../../proto/conformance/tokens.json")
	if err != nil {
		t.Fatal(err)
	}
	var entries map[string]struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{"(none)": "", "(unknown)": "cf-unknown-token-0123456789abcdef"}
	for tok, e := range entries {
		tokens[e.Name] = tok
	}
	dir := os.Getenv("TASKWIRE_AUTH_TLS_DIR")
	clients := map[string]*Client{}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	clientFor := func(name string) *Client {
		if name == "" {
			name = "(none)"
		}
		if c, ok := clients[name]; ok {
			return c
		}
		tok, ok := tokens[name]
		if !ok {
			t.Fatalf("unknown token name %q (proto/conformance/tokens.json)", name)
		}
		// No retries: the errors are what these scenarios check.
		opts := []ClientOption{WithToken(tok), WithoutCallRetry()}
		if dir != "" {
			opts = append(opts, WithTLSFiles(dir+"/ca.crt", dir+"/client.crt", dir+"/client.key"))
		} else {
			opts = append(opts, WithInsecureToken())
		}
		c, err := Dial(context.Background(), addr, opts...)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		clients[name] = c
		return c
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	playScenarios(t, loadScenarios(t, fmt.Sprintf("go-%d-%s", time.Now().UnixMilli(), hex.EncodeToString(rnd[:]))), true, clientFor)
}

type runner struct {
	t    *testing.T
	c    *Client
	vars map[string]string
	step string
}

func (r *runner) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf(r.step+": "+format, args...)
}

// ctx returns a context for one step; timeoutMs 0 means 30 s.
func (r *runner) ctx(timeoutMs int64) context.Context {
	d := 30 * time.Second
	if timeoutMs > 0 {
		d = time.Duration(timeoutMs) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	r.t.Cleanup(cancel)
	return ctx
}

func (r *runner) runID(st *step) string {
	r.t.Helper()
	if st.RunID != "" {
		return st.RunID
	}
	id, ok := r.vars[st.Run]
	if !ok {
		r.fatalf("unknown run variable %q", st.Run)
	}
	return id
}

func (r *runner) bind(name string, run *Run) {
	if name != "" {
		r.vars[name] = run.GetId()
	}
}

// checkError compares err with expect_error / error_contains; it reports
// whether an error was expected (so the caller stops processing the step).
func (r *runner) checkError(st *step, err error) bool {
	r.t.Helper()
	if st.ExpectError == "" {
		if err != nil {
			r.fatalf("unexpected error: %v", err)
		}
		return false
	}
	var want codes.Code
	if e := want.UnmarshalJSON([]byte(strconv.Quote(st.ExpectError))); e != nil {
		r.fatalf("unknown gRPC code %q in scenario", st.ExpectError)
	}
	if err == nil {
		r.fatalf("want error %s, got success", st.ExpectError)
	}
	if got := status.Code(err); got != want {
		r.fatalf("want error %s, got %v (%v)", st.ExpectError, got, err)
	}
	if msg := status.Convert(err).Message(); st.ErrorContains != "" && !containsFold(msg, st.ErrorContains) {
		r.fatalf("error message %q does not contain %q", msg, st.ErrorContains)
	}
	return true
}

// jsonArgs turns a scenario's args (a JSON array) into JSONArgs.
func jsonArgsOf(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		// Not an array: send the value as-is (a single argument).
		return json.RawMessage(raw), nil
	}
	args := make([]any, len(list))
	for i, a := range list {
		args[i] = a
	}
	return JSONArgs(args...), nil
}

// parseOptions reads proto-field-named options into functional options.
func parseOptions(raw json.RawMessage) ([]SubmitOption, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var o taskwirev1.SubmitOptions
	if err := protojson.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	return optionsFromProto(&o), nil
}

// optionsFromProto maps every SubmitOptions field to its functional option
// (TestOptionsFromProtoRoundTrip checks the mapping is complete).
func optionsFromProto(o *taskwirev1.SubmitOptions) []SubmitOption {
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	var opts []SubmitOption
	if o.IdempotencyKey != "" {
		opts = append(opts, WithIdempotencyKey(o.IdempotencyKey))
	}
	if o.Queue != "" {
		opts = append(opts, WithQueue(o.Queue))
	}
	if o.Priority != 0 {
		opts = append(opts, WithPriority(o.Priority))
	}
	if p := o.Retry; p != nil {
		rp := RetryPolicy{
			MaxRetries: int(p.MaxRetries), InitialDelay: ms(p.InitialDelayMs), BackoffMultiplier: p.BackoffMultiplier,
			MaxDelay: ms(p.MaxDelayMs), Jitter: p.Jitter, RetryOn: p.RetryOn, NeverRetryOn: p.NeverRetryOn,
		}
		for _, d := range p.DelaysMs {
			rp.Delays = append(rp.Delays, ms(d))
		}
		opts = append(opts, WithRetry(rp))
	}
	if o.TimeoutMs != 0 {
		opts = append(opts, WithTimeout(ms(o.TimeoutMs)))
	}
	if o.ScheduledAt != nil {
		opts = append(opts, WithScheduledAt(o.ScheduledAt.AsTime()))
	}
	if o.DelayMs != 0 {
		opts = append(opts, WithDelay(ms(o.DelayMs)))
	}
	if len(o.Labels) > 0 {
		opts = append(opts, WithLabels(o.Labels))
	}
	if o.CacheKey != "" {
		opts = append(opts, WithCacheKey(o.CacheKey))
	}
	if o.CacheTtlMs != 0 {
		opts = append(opts, WithCacheTTL(ms(o.CacheTtlMs)))
	}
	if o.RefreshCache {
		opts = append(opts, WithRefreshCache())
	}
	if o.ConcurrencyKey != "" {
		opts = append(opts, WithConcurrencyKey(o.ConcurrencyKey))
	}
	if len(o.WaitFor) > 0 {
		opts = append(opts, WithWaitFor(o.WaitFor...))
	}
	if o.RunIfDependenciesFail {
		opts = append(opts, WithRunIfDependenciesFail())
	}
	if o.ScheduleToStartTimeoutMs != 0 {
		opts = append(opts, WithScheduleToStartTimeout(ms(o.ScheduleToStartTimeoutMs)))
	}
	return opts
}

func (r *runner) do(st *step) {
	r.t.Helper()
	switch st.Op {
	case "submit":
		args, err := jsonArgsOf(st.Args)
		if err != nil {
			r.fatalf("args: %v", err)
		}
		opts, err := parseOptions(st.Options)
		if err != nil {
			r.fatalf("options: %v", err)
		}
		run, err := r.c.Submit(r.ctx(0), st.Task, args, opts...)
		if r.checkError(st, err) {
			return
		}
		var name string
		if len(st.As) > 0 {
			if err := json.Unmarshal(st.As, &name); err != nil {
				r.fatalf("as: %v", err)
			}
		}
		r.bind(name, run)

	case "submit_raw":
		var data []byte
		switch {
		case st.Data != nil:
			data = []byte(*st.Data)
		case st.DataSize != nil:
			n := max(*st.DataSize, 2)
			data = make([]byte, n)
			for i := range data {
				data[i] = 'a'
			}
			data[0], data[n-1] = '"', '"'
		default:
			r.fatalf("submit_raw needs data or data_size")
		}
		run, err := r.c.Submit(r.ctx(0), st.Task, RawArgs(st.ContentType, data))
		if r.checkError(st, err) {
			return
		}
		var name string
		if len(st.As) > 0 {
			json.Unmarshal(st.As, &name)
		}
		r.bind(name, run)

	case "submit_batch":
		var names []string
		if len(st.As) > 0 {
			if err := json.Unmarshal(st.As, &names); err != nil {
				r.fatalf("as: %v", err)
			}
		}
		items := make([]BatchItem, len(st.Items))
		for i, it := range st.Items {
			args, err := jsonArgsOf(it.Args)
			if err != nil {
				r.fatalf("items[%d].args: %v", i, err)
			}
			opts, err := parseOptions(it.Options)
			if err != nil {
				r.fatalf("items[%d].options: %v", i, err)
			}
			items[i] = BatchItem{Task: it.Task, Args: args, Options: opts}
		}
		runs, err := r.c.SubmitBatch(r.ctx(0), items)
		if r.checkError(st, err) {
			return
		}
		if len(runs) != len(items) {
			r.fatalf("%d runs for %d items", len(runs), len(items))
		}
		for i, name := range names {
			if i < len(runs) {
				r.bind(name, runs[i])
			}
		}

	case "get_status":
		var opts []StatusOption
		var timeout int64
		if st.WaitTimeoutMs != nil {
			opts = append(opts, WithWaitTimeout(time.Duration(*st.WaitTimeoutMs)*time.Millisecond))
			timeout = max(*st.WaitTimeoutMs+30000, 0)
		}
		_, err := r.c.GetStatus(r.ctx(timeout), r.runID(st), opts...)
		r.checkError(st, err)

	case "wait":
		ctx := r.ctx(st.TimeoutMs)
		run, err := r.c.Wait(ctx, r.runID(st))
		if errors.Is(err, context.DeadlineExceeded) {
			last, _ := r.c.GetStatus(r.ctx(0), r.runID(st))
			r.fatalf("run %s not terminal after %d ms (state %v)", r.runID(st), st.TimeoutMs, last.GetState())
		}
		if err != nil {
			r.fatalf("wait: %v", err)
		}
		if !IsTerminal(run.GetState()) {
			r.fatalf("Wait returned non-terminal state %v", run.GetState())
		}

	case "wait_state":
		want, ok := ParseRunState(st.State)
		if !ok {
			r.fatalf("unknown state %q", st.State)
		}
		ctx := r.ctx(st.TimeoutMs)
		for {
			run, err := r.c.GetStatus(ctx, r.runID(st))
			if errors.Is(err, context.DeadlineExceeded) {
				r.fatalf("run not in %v after %d ms", want, st.TimeoutMs)
			}
			if err != nil {
				r.fatalf("get_status: %v", err)
			}
			if run.GetState() == want {
				break
			}
			if IsTerminal(run.GetState()) {
				r.fatalf("run reached terminal state %v, waiting for %v", run.GetState(), want)
			}
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				r.fatalf("run not in %v after %d ms (state %v)", want, st.TimeoutMs, run.GetState())
			}
		}

	case "expect_status":
		run, err := r.c.GetStatus(r.ctx(0), r.runID(st))
		if err != nil {
			r.fatalf("get_status: %v", err)
		}
		r.expectStatus(st, run)

	case "cancel":
		_, err := r.c.Cancel(r.ctx(0), r.runID(st))
		r.checkError(st, err)

	case "retry":
		_, err := r.c.Retry(r.ctx(0), r.runID(st))
		r.checkError(st, err)

	case "expect_same_id":
		if len(st.Runs) == 0 {
			r.fatalf("no runs")
		}
		first := r.runID(&step{Run: st.Runs[0]})
		for _, name := range st.Runs[1:] {
			if id := r.runID(&step{Run: name}); id != first {
				r.fatalf("%s=%s but %s=%s", st.Runs[0], first, name, id)
			}
		}

	case "expect_different_id":
		seen := map[string]string{}
		for _, name := range st.Runs {
			id := r.runID(&step{Run: name})
			if other, dup := seen[id]; dup {
				r.fatalf("%s and %s are the same run %s", other, name, id)
			}
			seen[id] = name
		}

	case "expect_not_listed":
		page, err := r.c.ListRuns(r.ctx(0), ListFilter{Task: st.Task, PageSize: 1000})
		if err != nil {
			r.fatalf("list_runs: %v", err)
		}
		id := r.runID(st)
		if slices.ContainsFunc(page.Runs, func(run *Run) bool { return run.GetId() == id }) {
			r.fatalf("run %s of another namespace is listed", id)
		}

	case "expect_events":
		evs := r.events(EventFilter{RunIDs: []string{r.runID(st)}, UntilTerminal: true})
		r.expectTypes(st.Exactly, st.ContainsInOrder, evs)

	case "expect_resume":
		id := r.runID(st)
		evs := r.events(EventFilter{RunIDs: []string{id}, UntilTerminal: true})
		if st.AfterIndex == nil || *st.AfterIndex < 0 || *st.AfterIndex >= len(evs) {
			r.fatalf("after_index out of range for %d events %v", len(evs), eventTypes(evs))
		}
		cursor := evs[*st.AfterIndex].GetCursor()
		resumed := r.events(EventFilter{RunIDs: []string{id}, AfterCursor: cursor, UntilTerminal: true})
		r.expectTypes(st.Exactly, nil, resumed)
		if len(resumed) > 0 && compareCursors(resumed[0].GetCursor(), cursor) <= 0 {
			r.fatalf("resumed at cursor %q, not after %q", resumed[0].GetCursor(), cursor)
		}

	case "stream_events":
		f := EventFilter{}
		if st.AfterCursor != nil {
			f.AfterCursor = *st.AfterCursor
		}
		var streamErr error
		for _, err := range r.c.StreamEvents(r.ctx(15000), f, WithMaxReconnects(0)) {
			if err != nil {
				streamErr = err
			}
		}
		if streamErr == nil && st.ExpectError != "" {
			r.fatalf("stream ended without error, want %s", st.ExpectError)
		}
		r.checkError(st, streamErr)

	case "expect_listed":
		page, err := r.c.ListRuns(r.ctx(0), ListFilter{Task: st.Task, PageSize: 100})
		if err != nil {
			r.fatalf("list_runs: %v", err)
		}
		id := r.runID(st)
		if !slices.ContainsFunc(page.Runs, func(run *Run) bool { return run.GetId() == id }) {
			r.fatalf("run %s not in the first page of %d runs of %q", id, len(page.Runs), st.Task)
		}
		for _, run := range page.Runs {
			if run.GetTask() != st.Task {
				r.fatalf("ListRuns(task=%q) returned a run of task %q", st.Task, run.GetTask())
			}
		}

	default:
		r.fatalf("unknown op %q", st.Op)
	}
}

func (r *runner) expectStatus(st *step, run *Run) {
	r.t.Helper()
	if st.LogMessages != nil {
		var got []string
		for _, l := range run.GetLogs() {
			got = append(got, l.GetMessage())
		}
		if !slices.Equal(got, st.LogMessages) {
			r.fatalf("log messages %q, want %q", got, st.LogMessages)
		}
	}
	if st.Progress != nil && run.GetProgress().GetFraction() != *st.Progress {
		r.fatalf("progress %v, want %v", run.GetProgress().GetFraction(), *st.Progress)
	}
	if st.Namespace != nil && run.GetNamespace() != *st.Namespace {
		r.fatalf("namespace %q, want %q", run.GetNamespace(), *st.Namespace)
	}
	if st.State != "" {
		want, ok := ParseRunState(st.State)
		if !ok {
			r.fatalf("unknown state %q", st.State)
		}
		if run.GetState() != want {
			r.fatalf("state %v, want %v (error: %v)", run.GetState(), want, run.GetError())
		}
	}
	if len(st.Result) > 0 {
		var want, got any
		if err := json.Unmarshal(st.Result, &want); err != nil {
			r.fatalf("scenario result: %v", err)
		}
		if err := ResultInto(run, &got); err != nil {
			r.fatalf("result: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			r.fatalf("result %s, want %s", run.GetResult().GetData(), st.Result)
		}
	}
	if st.ResultLength != nil {
		s, err := DecodeResult[string](run)
		if err != nil {
			r.fatalf("string result: %v", err)
		}
		if n := len([]rune(s)); n != *st.ResultLength {
			r.fatalf("result length %d, want %d", n, *st.ResultLength)
		}
	}
	if st.ErrorType != nil && run.GetError().GetType() != *st.ErrorType {
		r.fatalf("error type %q, want %q (%v)", run.GetError().GetType(), *st.ErrorType, run.GetError())
	}
	if st.ErrorMessageContains != nil && !containsFold(run.GetError().GetMessage(), *st.ErrorMessageContains) {
		r.fatalf("error message %q does not contain %q", run.GetError().GetMessage(), *st.ErrorMessageContains)
	}
	if st.Attempt != nil && run.GetAttempt() != *st.Attempt {
		r.fatalf("attempt %d, want %d", run.GetAttempt(), *st.Attempt)
	}
	if st.Attempts != nil && len(run.GetAttempts()) != *st.Attempts {
		r.fatalf("%d attempts, want %d: %v", len(run.GetAttempts()), *st.Attempts, run.GetAttempts())
	}
}

// events streams until the broker closes the stream (until_terminal) and
// checks that cursors strictly increase.
func (r *runner) events(f EventFilter) []*Event {
	r.t.Helper()
	var evs []*Event
	for ev, err := range r.c.StreamEvents(r.ctx(30000), f) {
		if err != nil {
			r.fatalf("stream_events after %v: %v", eventTypes(evs), err)
		}
		if len(evs) > 0 && compareCursors(ev.GetCursor(), evs[len(evs)-1].GetCursor()) <= 0 {
			r.fatalf("cursor %q after %q: not strictly increasing", ev.GetCursor(), evs[len(evs)-1].GetCursor())
		}
		evs = append(evs, ev)
	}
	return evs
}

func (r *runner) expectTypes(exactly, inOrder []string, evs []*Event) {
	r.t.Helper()
	got := eventTypes(evs)
	if exactly != nil && !slices.Equal(got, exactly) {
		r.fatalf("events %v, want exactly %v", got, exactly)
	}
	if inOrder != nil {
		i := 0
		for _, g := range got {
			if i < len(inOrder) && g == inOrder[i] {
				i++
			}
		}
		if i != len(inOrder) {
			r.fatalf("events %v do not contain %v in order", got, inOrder)
		}
	}
}

// compareCursors orders two cursors. They are opaque but ordered; numeric
// cursors (the broker's KV revisions) compare as numbers, others as strings.
func compareCursors(a, b string) int {
	na, ea := strconv.ParseUint(a, 10, 64)
	nb, eb := strconv.ParseUint(b, 10, 64)
	if ea == nil && eb == nil {
		switch {
		case na < nb:
			return -1
		case na > nb:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}
