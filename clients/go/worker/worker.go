package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	taskwire "github.com/taskwire/taskwire/clients/go"
	taskwirev1 "github.com/taskwire/taskwire/clients/go/gen/taskwire/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// SDK names this package in the worker's hello.
const SDK = "taskwire-go/0.1.0"

// abortGrace is how long a cancelled or timed-out attempt may take to
// return before it is reported anyway (the TypeScript worker's grace).
const abortGrace = 2 * time.Second

var reconnectDelay = [2]time.Duration{100 * time.Millisecond, 5 * time.Second}

// Worker serves registered tasks. The package-level [Register] and [Run]
// use [Default]; make more with [New] and [RegisterOn].
type Worker struct {
	mu       sync.Mutex
	tasks    map[string]*task
	opts     []Option
	attempts map[string]*attempt
	unsent   map[string]*taskwirev1.AttemptFinished
	sess     *session
	started  int
	finished int
}

// Default is the worker of [Register] and [Run].
var Default = New()

// New makes a worker; opts apply to every Run (Run's own options win).
func New(opts ...Option) *Worker {
	return &Worker{tasks: map[string]*task{}, opts: opts}
}

// Register registers a task on [Default]. It panics on an invalid name,
// a nil function or a name registered twice (programming errors, like
// http.HandleFunc's).
func Register[A, R any](name string, fn func(ctx context.Context, args A) (R, error), opts ...TaskOption) {
	if err := RegisterOn(Default, name, fn, opts...); err != nil {
		panic(err)
	}
}

// RegisterOn registers a task on w.
func RegisterOn[A, R any](w *Worker, name string, fn func(ctx context.Context, args A) (R, error), opts ...TaskOption) error {
	t, err := newTask(name, fn, opts)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.tasks[name]; dup {
		return fmt.Errorf("taskwire: task %q is registered twice", name)
	}
	w.tasks[name] = t
	return nil
}

// Tasks lists the registered task names.
func (w *Worker) Tasks() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	names := make([]string, 0, len(w.tasks))
	for n := range w.tasks {
		names = append(names, n)
	}
	return names
}

// Run serves [Default] until ctx ends; see [Worker.Run].
func Run(ctx context.Context, opts ...Option) error { return Default.Run(ctx, opts...) }

// Option configures a worker.
type Option func(*config)

type config struct {
	address       string
	concurrency   int
	queues        []string
	workerID      string
	clientOpts    []taskwire.ClientOption
	shutdownGrace time.Duration
	logger        *slog.Logger
	conn          grpc.ClientConnInterface
}

// WithAddress sets the broker ("host:port"). Default: TASKWIRE_ADDRESS, else localhost:50051.
func WithAddress(addr string) Option { return func(c *config) { c.address = addr } }

// WithConcurrency sets how many attempts execute at once (1–10000). Default: TASKWIRE_CONCURRENCY, else 10.
func WithConcurrency(n int) Option { return func(c *config) { c.concurrency = n } }

// WithQueues sets the queues served. Default: TASKWIRE_QUEUES (comma separated), else "default".
func WithQueues(queues ...string) Option { return func(c *config) { c.queues = queues } }

// WithWorkerID sets the id recorded on attempts. Default: <host>-<pid>-<random>.
func WithWorkerID(id string) Option { return func(c *config) { c.workerID = id } }

// WithClientOptions sets how the worker connects, with the client's
// options: [taskwire.WithTLSFiles], [taskwire.WithTLS], [taskwire.WithToken]
// (a token with the scope "workers"), [taskwire.WithInsecureToken],
// [taskwire.WithDialOptions]. Without them, as the client: TASKWIRE_TLS_CA /
// TASKWIRE_TLS (+ _CERT, _KEY) and TASKWIRE_TOKEN.
func WithClientOptions(opts ...taskwire.ClientOption) Option {
	return func(c *config) { c.clientOpts = append(c.clientOpts, opts...) }
}

// WithShutdownGrace sets how long in-flight attempts may finish once ctx
// ends before they are cancelled. Default: TASKWIRE_SHUTDOWN_GRACE_MS, else 30 s.
func WithShutdownGrace(d time.Duration) Option { return func(c *config) { c.shutdownGrace = d } }

// WithLogger sets the worker's logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithConn uses an existing connection (its owner closes it).
func WithConn(cc grpc.ClientConnInterface) Option { return func(c *config) { c.conn = cc } }

func envInt(name string, def, lo, hi int) (int, error) {
	raw := strings.TrimSpace(os.Getenv(name))
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("taskwire: %s=%s: expected a whole number from %d to %d", name, raw, lo, hi)
	}
	return n, nil
}

func (w *Worker) config(opts []Option) (config, error) {
	c := config{}
	for _, o := range append(append([]Option{}, w.opts...), opts...) {
		if o != nil {
			o(&c)
		}
	}
	c.address = taskwire.ResolveAddress(c.address)
	if c.concurrency == 0 {
		n, err := envInt("TASKWIRE_CONCURRENCY", 10, 1, 10_000)
		if err != nil {
			return c, err
		}
		c.concurrency = n
	}
	if c.concurrency < 1 || c.concurrency > 10_000 {
		return c, fmt.Errorf("taskwire: concurrency must be 1–10000, got %d", c.concurrency)
	}
	if len(c.queues) == 0 {
		for _, q := range strings.Split(os.Getenv("TASKWIRE_QUEUES"), ",") {
			if q = strings.TrimSpace(q); q != "" {
				c.queues = append(c.queues, q)
			}
		}
	}
	if c.workerID == "" {
		host, _ := os.Hostname()
		c.workerID = fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), rand.IntN(1<<16))
	}
	if c.shutdownGrace == 0 {
		ms, err := envInt("TASKWIRE_SHUTDOWN_GRACE_MS", 30_000, 0, 86_400_000)
		if err != nil {
			return c, err
		}
		c.shutdownGrace = time.Duration(ms) * time.Millisecond
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c, nil
}

// Run serves the registered tasks until ctx ends, then stops gracefully:
// no new runs, in-flight attempts get the shutdown grace, then their ctx is
// cancelled and they are reported cancelled. A dropped stream is
// reconnected with backoff; the runs still executing are listed in the new
// hello, so the broker keeps them with this worker. Run returns nil after a
// graceful stop, and an error when the broker refuses the worker (invalid
// hello, bad token, missing scope) or its settings are invalid.
func (w *Worker) Run(ctx context.Context, opts ...Option) error {
	cfg, err := w.config(opts)
	if err != nil {
		return err
	}
	w.mu.Lock()
	if len(w.tasks) == 0 {
		w.mu.Unlock()
		return errors.New("taskwire: no tasks registered: call worker.Register before Run")
	}
	if w.attempts == nil {
		w.attempts, w.unsent = map[string]*attempt{}, map[string]*taskwirev1.AttemptFinished{}
	}
	w.mu.Unlock()
	cc := cfg.conn
	if cc == nil {
		dialOpts, err := taskwire.DialOptions(cfg.address, cfg.clientOpts...)
		if err != nil {
			return err
		}
		conn, err := grpc.NewClient(cfg.address, dialOpts...)
		if err != nil {
			return err
		}
		defer conn.Close()
		cc = conn
	}
	client := taskwirev1.NewWorkerServiceClient(cc)
	// Attempts outlive ctx (its end means "stop gracefully"); they end when Run returns.
	runCtx, stopAttempts := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAttempts()
	cfg.logger.Info("taskwire worker serving", "worker", cfg.workerID, "tasks", w.Tasks(), "address", cfg.address, "concurrency", cfg.concurrency)
	pause := reconnectDelay[0]
	for {
		began := time.Now()
		stopped, err := w.serveStream(ctx, runCtx, client, &cfg)
		if stopped {
			w.mu.Lock()
			cfg.logger.Info("taskwire worker stopped", "worker", cfg.workerID, "started", w.started, "reported", w.finished)
			w.mu.Unlock()
			return nil
		}
		if st, ok := status.FromError(err); ok && fatal(st.Code()) {
			return fmt.Errorf("taskwire: the broker refused the worker: %s: %s", st.Code(), st.Message())
		}
		cfg.logger.Warn("worker stream lost; reconnecting", "err", err)
		if time.Since(began) > 10*time.Second {
			pause = reconnectDelay[0]
		}
		jittered := time.Duration(float64(pause) * (0.8 + 0.4*rand.Float64()))
		select {
		case <-time.After(jittered):
		case <-ctx.Done():
			if w.idle() {
				return nil
			}
			// Reconnect once more to report what is still running or unsent.
		}
		pause = min(pause*2, reconnectDelay[1])
	}
}

func fatal(c codes.Code) bool {
	return c == codes.InvalidArgument || c == codes.Unauthenticated || c == codes.PermissionDenied || c == codes.Unimplemented
}

func (w *Worker) idle() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.attempts) == 0 && len(w.unsent) == 0
}

// session is one Connect stream.
type session struct {
	out        *outbox
	welcomed   bool
	interval   time.Duration
	maxResult  int64
	lastHeard  time.Time
	workerID   string
	closedSend bool
}

// outbox is the stream's send queue: unbounded, one sender goroutine.
type outbox struct {
	mu     sync.Mutex
	items  []*taskwirev1.ConnectRequest
	closed bool
	wake   chan struct{}
}

func newOutbox() *outbox { return &outbox{wake: make(chan struct{}, 1)} }

func (o *outbox) push(r *taskwirev1.ConnectRequest) {
	o.mu.Lock()
	o.items = append(o.items, r)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// close asks the sender to half-close once everything queued is sent.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) take() ([]*taskwirev1.ConnectRequest, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	items := o.items
	o.items = nil
	return items, o.closed
}

func (w *Worker) hello(cfg *config) *taskwirev1.ConnectRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	var running []*taskwirev1.HeldRun
	for _, a := range w.attempts {
		running = append(running, &taskwirev1.HeldRun{RunId: a.a.GetRunId(), Attempt: a.a.GetAttempt()})
	}
	for id, f := range w.unsent {
		if _, ok := w.attempts[id]; !ok {
			running = append(running, &taskwirev1.HeldRun{RunId: f.GetRunId(), Attempt: f.GetAttempt()})
		}
	}
	if len(running) > cfg.concurrency {
		running = running[:cfg.concurrency]
	}
	tasks := make([]*taskwirev1.WorkerTask, 0, len(w.tasks))
	for _, t := range w.tasks {
		tasks = append(tasks, t.proto())
	}
	return &taskwirev1.ConnectRequest{Kind: &taskwirev1.ConnectRequest_Hello{Hello: &taskwirev1.WorkerHello{
		WorkerId: cfg.workerID, Tasks: tasks, Queues: cfg.queues, Concurrency: int32(cfg.concurrency), Sdk: SDK, Running: running,
	}}}
}

var errLost = errors.New("nothing from the broker for 6 heartbeat intervals")

// serveStream runs one Connect stream; true when the worker stopped for good.
func (w *Worker) serveStream(ctx, runCtx context.Context, client taskwirev1.WorkerServiceClient, cfg *config) (bool, error) {
	streamCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stream, err := client.Connect(streamCtx)
	if err != nil {
		return false, err
	}
	s := &session{out: newOutbox(), interval: 2500 * time.Millisecond, maxResult: 3 << 20, lastHeard: time.Now(), workerID: cfg.workerID}
	s.out.push(w.hello(cfg))
	w.mu.Lock()
	w.sess = s
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		if w.sess == s {
			w.sess = nil
		}
		w.mu.Unlock()
	}()

	sendErr := make(chan error, 1)
	go func() { sendErr <- sendLoop(stream, s.out) }()
	readErr := make(chan error, 1)
	go func() { readErr <- w.readLoop(runCtx, stream, s, cfg) }()
	watch := time.NewTicker(50 * time.Millisecond)
	defer watch.Stop()
	nextBeat := time.Time{}
	for {
		select {
		case err := <-readErr:
			if err == io.EOF {
				err = errors.New("the broker closed the stream")
			}
			return false, err
		case err := <-sendErr:
			if err != nil {
				return false, err
			}
		case <-ctx.Done():
			w.drain(s, cfg)
			select {
			case <-readErr:
			case <-time.After(5 * time.Second):
			}
			return true, nil
		case now := <-watch.C:
			w.mu.Lock()
			welcomed, interval, heard := s.welcomed, s.interval, s.lastHeard
			w.mu.Unlock()
			if !welcomed {
				if now.Sub(heard) > 10*time.Second {
					return false, errors.New("no welcome within 10 s")
				}
				continue
			}
			if now.Sub(heard) > 6*interval {
				return false, errLost
			}
			if now.After(nextBeat) {
				nextBeat = now.Add(interval)
				s.out.push(w.heartbeat(cfg))
			}
		}
	}
}

func sendLoop(stream taskwirev1.WorkerService_ConnectClient, out *outbox) error {
	done := stream.Context().Done()
	for {
		select {
		case <-done:
			return nil
		case <-out.wake:
		}
		items, closed := out.take()
		for _, r := range items {
			if err := stream.Send(r); err != nil {
				return err
			}
		}
		if closed {
			return stream.CloseSend()
		}
	}
}

func (w *Worker) heartbeat(cfg *config) *taskwirev1.ConnectRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	held := make([]*taskwirev1.HeldRun, 0, len(w.attempts))
	for _, a := range w.attempts {
		held = append(held, &taskwirev1.HeldRun{RunId: a.a.GetRunId(), Attempt: a.a.GetAttempt()})
	}
	return &taskwirev1.ConnectRequest{Kind: &taskwirev1.ConnectRequest_Heartbeat{Heartbeat: &taskwirev1.WorkerHeartbeat{Running: held, FreeSlots: int32(max(0, cfg.concurrency-len(held)))}}}
}

func (w *Worker) readLoop(runCtx context.Context, stream taskwirev1.WorkerService_ConnectClient, s *session, cfg *config) error {
	for {
		res, err := stream.Recv()
		if err != nil {
			return err
		}
		w.mu.Lock()
		s.lastHeard = time.Now()
		w.mu.Unlock()
		switch k := res.GetKind().(type) {
		case *taskwirev1.ConnectResponse_Welcome:
			w.welcomed(s, k.Welcome, cfg)
		case *taskwirev1.ConnectResponse_Assignment:
			w.assigned(runCtx, k.Assignment, cfg)
		case *taskwirev1.ConnectResponse_Cancel:
			w.mu.Lock()
			a := w.attempts[k.Cancel.GetRunId()]
			w.mu.Unlock()
			if a != nil && a.a.GetAttempt() == k.Cancel.GetAttempt() {
				reason := k.Cancel.GetReason()
				if reason == "" {
					reason = "cancelled"
				}
				a.stop(kindCancel, reason)
			}
		}
	}
}

func (w *Worker) welcomed(s *session, wel *taskwirev1.WorkerWelcome, cfg *config) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s.welcomed = true
	if ms := wel.GetHeartbeatIntervalMs(); ms > 0 {
		s.interval = time.Duration(ms) * time.Millisecond
	}
	if b := wel.GetMaxResultBytes(); b > 0 {
		s.maxResult = b
	}
	if id := wel.GetWorkerId(); id != "" {
		s.workerID = id
	}
	for id, f := range w.unsent {
		s.out.push(&taskwirev1.ConnectRequest{Kind: &taskwirev1.ConnectRequest_Finished{Finished: f}})
		delete(w.unsent, id)
	}
	cfg.logger.Info("connected to the broker", "address", cfg.address, "worker", s.workerID)
}

// drain: no more runs; in-flight attempts get the grace, then are cancelled; then half-close.
func (w *Worker) drain(s *session, cfg *config) {
	until := time.Now().Add(5 * time.Second)
	for !w.isWelcomed(s) && time.Now().Before(until) {
		time.Sleep(20 * time.Millisecond)
	}
	s.out.push(&taskwirev1.ConnectRequest{Kind: &taskwirev1.ConnectRequest_Drain{Drain: &taskwirev1.WorkerDrain{}}})
	w.mu.Lock()
	n := len(w.attempts)
	w.mu.Unlock()
	cfg.logger.Info("stopping: waiting for in-flight runs", "running", n, "grace", cfg.shutdownGrace)
	deadline := time.Now().Add(cfg.shutdownGrace)
	for w.running() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	w.mu.Lock()
	left := make([]*attempt, 0, len(w.attempts))
	for _, a := range w.attempts {
		left = append(left, a)
	}
	w.mu.Unlock()
	for _, a := range left {
		a.stop(kindCancel, "worker shutting down")
	}
	deadline = time.Now().Add(abortGrace + time.Second)
	for w.running() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	s.out.close()
}

func (w *Worker) isWelcomed(s *session) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return s.welcomed
}

func (w *Worker) running() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.attempts)
}

// send queues a message on the current stream when it is welcomed (logs and progress are dropped while disconnected).
func (w *Worker) send(r *taskwirev1.ConnectRequest) {
	w.mu.Lock()
	s := w.sess
	ok := s != nil && s.welcomed
	w.mu.Unlock()
	if ok {
		s.out.push(r)
	}
}

// report sends an attempt's end, or keeps it for the next stream.
func (w *Worker) report(f *taskwirev1.AttemptFinished) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if a, ok := w.attempts[f.GetRunId()]; ok && a.a.GetAttempt() == f.GetAttempt() {
		delete(w.attempts, f.GetRunId())
	}
	w.finished++
	if s := w.sess; s != nil && s.welcomed {
		s.out.push(&taskwirev1.ConnectRequest{Kind: &taskwirev1.ConnectRequest_Finished{Finished: f}})
		return
	}
	w.unsent[f.GetRunId()] = f
}

func (w *Worker) maxResult() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sess != nil {
		return w.sess.maxResult
	}
	return 3 << 20
}
