// Package worker executes taskwire runs in Go.
//
// A worker needs only the broker's address: it opens one gRPC stream
// (taskwire.v1.WorkerService/Connect, proto/taskwire/v1/worker.proto),
// announces its tasks and concurrency, and the broker hands it runs, keeps
// them alive in NATS and records what it reports — with the guarantees of
// the TypeScript worker: claims and outcomes by compare-and-set, a lost
// worker's runs back in play within 2 × the heartbeat, exactly one recorded
// outcome per run.
//
// Register typed task functions, then run until the context ends:
//
//	worker.Register("resize-image", func(ctx context.Context, req ResizeRequest) (ResizeResult, error) {
//		worker.Logger(ctx).Info("resizing", "url", req.URL)
//		worker.Progress(ctx, 0.5, "half way")
//		...
//	}, worker.Retries(3), worker.Timeout(30*time.Second))
//
//	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//	defer stop()
//	if err := worker.Run(ctx); err != nil { log.Fatal(err) }
//
// Arguments: runs carry their positional arguments as a JSON array. A task
// function takes one argument of type A, decoded from the single
// positional argument when there is exactly one, from the whole array
// otherwise (use [Args2], [Args3], a Go array such as [2]int, or a slice
// for several), and from the value itself when the payload is not an
// array. No arguments decode to A's zero value. The result R is encoded as
// JSON ([Raw] passes bytes with their content type).
//
// The function's ctx is cancelled when the attempt's timeout passes, when
// the run is cancelled, and when the worker shuts down past its grace
// period. A function that ignores ctx gets two more seconds, then its
// attempt is reported anyway (timed out or cancelled) and its goroutine is
// abandoned. Errors steer retries: [NonRetryable] fails the run at once,
// [RetryAfter] asks for a delay, [WithType] names the failure; a panic is
// recorded as a failure of type "Panic".
//
// Run reconnects when the stream drops (listing the runs it still executes,
// so the broker keeps them with it) and stops gracefully when ctx ends: no
// new runs, in-flight runs get the shutdown grace, then are cancelled.
package worker
