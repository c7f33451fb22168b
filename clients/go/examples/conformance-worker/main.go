// Command conformance-worker serves the conformance tasks
// (proto/conformance/README.md) from Go: the same names and behaviour as
// examples/conformance/tasks.ts (TS) and examples/conformance/tasks.py
// (Python), so one scenario list runs against a worker in each language.
// The broker address comes from TASKWIRE_ADDRESS; flags: -concurrency N.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/taskwire/taskwire/clients/go/worker"
)

type empty struct{}

func main() {
	concurrency := flag.Int("concurrency", 10, "runs executed at once")
	flag.Parse()

	worker.Register("cf-echo", func(ctx context.Context, x any) (any, error) { return x, nil })
	worker.Register("cf-add", func(ctx context.Context, ab [2]float64) (float64, error) { return ab[0] + ab[1], nil })
	worker.Register("cf-unicode", func(ctx context.Context, s string) (string, error) { return s + " ✓", nil })
	worker.Register("cf-fail", func(ctx context.Context, msg string) (empty, error) {
		return empty{}, worker.NonRetryable(worker.WithType("ConformanceError", errors.New(msg)))
	})
	worker.Register("cf-flaky", func(ctx context.Context, n int) (int, error) {
		info, _ := worker.Info(ctx)
		if info.Attempt <= n {
			return 0, worker.WithType("FlakyError", fmt.Errorf("attempt %d fails on purpose", info.Attempt))
		}
		return info.Attempt, nil
	})
	worker.Register("cf-sleep", func(ctx context.Context, ms int) (int, error) {
		// Ends early when ctx is cancelled (cancel or timeout).
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Done():
		}
		return ms, nil
	})
	worker.Register("cf-large", func(ctx context.Context, n int) (string, error) { return strings.Repeat("x", n), nil })
	worker.Register("cf-log", func(ctx context.Context, n int) (int, error) {
		logger := worker.Logger(ctx)
		for i := range n {
			logger.Info(fmt.Sprintf("line %d", i))
			worker.Progress(ctx, float64(i+1)/float64(n), fmt.Sprintf("%d of %d", i+1, n))
		}
		return n, nil
	})
	worker.Register("cf-spin", func(ctx context.Context, ms int) (int, error) {
		// Busy, never looks at ctx: the worker reports the timeout after its
		// grace and abandons the goroutine.
		end := time.Now().Add(time.Duration(ms) * time.Millisecond)
		for time.Now().Before(end) {
		}
		return ms, nil
	})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := worker.Run(ctx, worker.WithConcurrency(*concurrency)); err != nil {
		log.Fatal(err)
	}
}
