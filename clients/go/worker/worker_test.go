package worker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	taskwire "github.com/taskwire/taskwire/clients/go"
	taskwirev1 "github.com/taskwire/taskwire/clients/go/gen/taskwire/v1"
	"github.com/taskwire/taskwire/clients/go/worker"
)

func payload(s string) *taskwirev1.Payload {
	return &taskwirev1.Payload{ContentType: "application/json", Data: []byte(s)}
}

func TestDecodeArgsLikeTheTSWorker(t *testing.T) {
	var n int
	if err := worker.DecodeArgs(payload("[7]"), &n); err != nil || n != 7 {
		t.Fatalf("one positional argument: %v %d", err, n)
	}
	var pair [2]float64
	if err := worker.DecodeArgs(payload("[2, 3.5]"), &pair); err != nil || pair != [2]float64{2, 3.5} {
		t.Fatalf("two arguments into an array: %v %v", err, pair)
	}
	var tuple worker.Args2[string, int]
	if err := worker.DecodeArgs(payload(`["a", 1]`), &tuple); err != nil || tuple.A != "a" || tuple.B != 1 {
		t.Fatalf("Args2: %v %+v", err, tuple)
	}
	var obj struct{ K []int }
	if err := worker.DecodeArgs(payload(`{"K": [1, 2]}`), &obj); err != nil || len(obj.K) != 2 {
		t.Fatalf("a bare value is the argument: %v %+v", err, obj)
	}
	var list []int
	if err := worker.DecodeArgs(payload(`[[1, 2, 3]]`), &list); err != nil || len(list) != 3 {
		t.Fatalf("one list argument: %v %v", err, list)
	}
	if err := worker.DecodeArgs(payload(`[1, 2, 3]`), &list); err != nil || len(list) != 3 {
		t.Fatalf("three arguments into a slice: %v %v", err, list)
	}
	var none struct{}
	if err := worker.DecodeArgs(payload(`[]`), &none); err != nil {
		t.Fatalf("no arguments: %v", err)
	}
	var raw worker.Raw
	if err := worker.DecodeArgs(&taskwirev1.Payload{ContentType: "text/plain", Data: []byte("hi")}, &raw); err != nil || string(raw.Data) != "hi" {
		t.Fatalf("raw: %v %+v", err, raw)
	}
	if err := worker.DecodeArgs(&taskwirev1.Payload{ContentType: "text/plain", Data: []byte("hi")}, &n); err == nil {
		t.Fatal("non-JSON arguments into an int must fail")
	}
}

func TestRegisterRejectsBadTasks(t *testing.T) {
	w := worker.New()
	fn := func(ctx context.Context, x int) (int, error) { return x, nil }
	if err := worker.RegisterOn(w, "bad name", fn); err == nil || !strings.Contains(err.Error(), "not valid") {
		t.Fatalf("bad name: %v", err)
	}
	if err := worker.RegisterOn(w, "ok", fn, worker.Retries(101)); err == nil || !strings.Contains(err.Error(), "retries") {
		t.Fatalf("retries: %v", err)
	}
	if err := worker.RegisterOn(w, "ok", fn); err != nil {
		t.Fatal(err)
	}
	if err := worker.RegisterOn(w, "ok", fn); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("twice: %v", err)
	}
	if err := worker.New().Run(context.Background()); err == nil || !strings.Contains(err.Error(), "no tasks") {
		t.Fatalf("no tasks: %v", err)
	}
}

// A live broker: TASKWIRE_ADDRESS (make test sets it).
func live(t *testing.T) (*taskwire.Client, string) {
	t.Helper()
	addr := os.Getenv("TASKWIRE_ADDRESS")
	if addr == "" {
		t.Skip("TASKWIRE_ADDRESS is not set: the worker tests need a live broker")
	}
	c, err := taskwire.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return c, "gow-" + hex.EncodeToString(b)
}

// serve runs w until the test ends (then stops it gracefully).
func serve(t *testing.T, w *worker.Worker, opts ...worker.Option) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() {
		done <- w.Run(ctx, append([]worker.Option{worker.WithLogger(quiet), worker.WithShutdownGrace(2 * time.Second)}, opts...)...)
	}()
	stop := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("worker: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("the worker did not stop")
		}
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			stop()
		}
	})
	return stop
}

func wait(t *testing.T, c *taskwire.Client, id string) *taskwire.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.Wait(ctx, id)
	if err != nil {
		t.Fatalf("waiting for %s: %v", id, err)
	}
	return run
}

func submit(t *testing.T, c *taskwire.Client, task string, args any, opts ...taskwire.SubmitOption) string {
	t.Helper()
	run, err := c.Submit(context.Background(), task, args, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return run.GetId()
}

type order struct {
	ID    string  `json:"id"`
	Total float64 `json:"total"`
}

func TestWorkerServesTypedTasks(t *testing.T) {
	c, p := live(t)
	w := worker.New()
	var flakyCalls atomic.Int32
	must(t, worker.RegisterOn(w, p+"-add", func(ctx context.Context, ab [2]int) (int, error) { return ab[0] + ab[1], nil }))
	must(t, worker.RegisterOn(w, p+"-order", func(ctx context.Context, o order) (map[string]any, error) {
		info, _ := worker.Info(ctx)
		return map[string]any{"id": o.ID, "total": o.Total * 2, "attempt": info.Attempt, "run": info.RunID}, nil
	}))
	must(t, worker.RegisterOn(w, p+"-flaky", func(ctx context.Context, _ struct{}) (int, error) {
		info, _ := worker.Info(ctx)
		flakyCalls.Add(1)
		if info.Attempt < 3 {
			return 0, worker.WithType("Transient", errors.New("not yet"))
		}
		return info.Attempt, nil
	}, worker.Retries(2), worker.RetryDelays(50*time.Millisecond)))
	must(t, worker.RegisterOn(w, p+"-never", func(ctx context.Context, _ struct{}) (int, error) {
		return 0, worker.NonRetryable(worker.WithType("Refused", errors.New("no way")))
	}, worker.Retries(3)))
	must(t, worker.RegisterOn(w, p+"-panic", func(ctx context.Context, _ struct{}) (int, error) { panic("boom") }))
	must(t, worker.RegisterOn(w, p+"-chatty", func(ctx context.Context, n int) (int, error) {
		for i := range n {
			worker.Logger(ctx).Info("line", "i", i)
			worker.Progress(ctx, float64(i+1)/float64(n), "")
		}
		return n, nil
	}))
	must(t, worker.RegisterOn(w, p+"-big", func(ctx context.Context, n int) (string, error) { return strings.Repeat("z", n), nil }))
	serve(t, w, worker.WithConcurrency(8))

	if got, err := taskwire.DecodeResult[int](wait(t, c, submit(t, c, p+"-add", taskwire.JSONArgs(2, 3)))); err != nil || got != 5 {
		t.Fatalf("add: %v %v", got, err)
	}
	id := submit(t, c, p+"-order", taskwire.JSONArgs(order{ID: "o-1", Total: 21}))
	got, err := taskwire.DecodeResult[map[string]any](wait(t, c, id))
	if err != nil || got["total"] != 42.0 || got["run"] != id || got["attempt"] != 1.0 {
		t.Fatalf("order: %v %v", got, err)
	}
	run := wait(t, c, submit(t, c, p+"-flaky", nil))
	if run.GetState() != taskwire.StateCompleted || len(run.GetAttempts()) != 3 || run.GetAttempts()[0].GetError().GetType() != "Transient" {
		t.Fatalf("flaky: %v", run)
	}
	run = wait(t, c, submit(t, c, p+"-never", nil))
	if run.GetState() != taskwire.StateFailed || run.GetError().GetType() != "Refused" || len(run.GetAttempts()) != 1 {
		t.Fatalf("never: %v", run)
	}
	run = wait(t, c, submit(t, c, p+"-panic", nil))
	if run.GetError().GetType() != "Panic" || !strings.Contains(run.GetError().GetStack(), "worker_test.go") {
		t.Fatalf("panic: %v", run.GetError())
	}
	run = wait(t, c, submit(t, c, p+"-chatty", taskwire.JSONArgs(3)))
	if len(run.GetLogs()) != 3 || run.GetLogs()[2].GetMessage() != "line i=2" || run.GetProgress().GetFraction() != 1 {
		t.Fatalf("logs and progress: %v %v", run.GetLogs(), run.GetProgress())
	}
	if s, err := taskwire.DecodeResult[string](wait(t, c, submit(t, c, p+"-big", taskwire.JSONArgs(200_000)))); err != nil || len(s) != 200_000 {
		t.Fatalf("big: %d %v", len(s), err)
	}
}

func TestTimeoutAndCancelCancelTheContext(t *testing.T) {
	c, p := live(t)
	w := worker.New()
	sleep := func(ctx context.Context, ms int) (string, error) {
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			return "slept", nil
		case <-ctx.Done():
			return "", context.Cause(ctx)
		}
	}
	must(t, worker.RegisterOn(w, p+"-sleep", sleep, worker.Timeout(300*time.Millisecond)))
	must(t, worker.RegisterOn(w, p+"-ignore", func(ctx context.Context, ms int) (string, error) {
		time.Sleep(time.Duration(ms) * time.Millisecond) // never looks at ctx
		return "late", nil
	}))
	serve(t, w)
	start := time.Now()
	run := wait(t, c, submit(t, c, p+"-sleep", taskwire.JSONArgs(30_000)))
	if run.GetError().GetType() != "TimeoutError" || time.Since(start) > 5*time.Second {
		t.Fatalf("timeout: %v after %s", run.GetError(), time.Since(start))
	}
	start = time.Now()
	run = wait(t, c, submit(t, c, p+"-ignore", taskwire.JSONArgs(10_000), taskwire.WithTimeout(200*time.Millisecond)))
	if run.GetError().GetType() != "TimeoutError" || time.Since(start) > 6*time.Second {
		t.Fatalf("a task that ignores ctx is reported after the grace: %v after %s", run.GetError(), time.Since(start))
	}
	id := submit(t, c, p+"-sleep", taskwire.JSONArgs(30_000), taskwire.WithTimeout(time.Minute))
	waitState(t, c, id, taskwire.StateRunning)
	if _, err := c.Cancel(context.Background(), id, taskwire.WithCancelReason("stop it")); err != nil {
		t.Fatal(err)
	}
	if run := wait(t, c, id); run.GetState() != taskwire.StateCancelled {
		t.Fatalf("cancel: %v", run.GetState())
	}
}

func TestGracefulShutdown(t *testing.T) {
	c, p := live(t)
	w := worker.New()
	must(t, worker.RegisterOn(w, p+"-short", func(ctx context.Context, _ struct{}) (string, error) {
		time.Sleep(500 * time.Millisecond)
		return "done", nil
	}))
	must(t, worker.RegisterOn(w, p+"-long", func(ctx context.Context, _ struct{}) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}))
	stop := serve(t, w, worker.WithConcurrency(2), worker.WithShutdownGrace(1500*time.Millisecond))
	short := submit(t, c, p+"-short", nil)
	long := submit(t, c, p+"-long", nil)
	waitState(t, c, short, taskwire.StateRunning)
	waitState(t, c, long, taskwire.StateRunning)
	stop()
	if run := wait(t, c, short); run.GetState() != taskwire.StateCompleted {
		t.Fatalf("short: %v", run.GetState())
	}
	run := wait(t, c, long)
	if run.GetState() != taskwire.StateCancelled || !strings.Contains(run.GetError().GetMessage(), "worker shutting down") {
		t.Fatalf("long: %v %v", run.GetState(), run.GetError())
	}
}

func waitState(t *testing.T, c *taskwire.Client, id string, state taskwire.RunState) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		run, err := c.GetStatus(context.Background(), id)
		if err == nil && run.GetState() == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not %s in time (last %v, %v)", id, state, run.GetState(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(fmt.Errorf("register: %w", err))
	}
}
