// Command bench-worker serves the bench's no-op task from Go (make bench,
// the "workers by language" phase): bench_noop returns the wall-clock time
// in ms at which it started, as bench/src/tasks.ts does. The broker address
// comes from TASKWIRE_ADDRESS; -concurrency sets the attempts at once.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/taskwire/taskwire/clients/go/worker"
)

func main() {
	concurrency := flag.Int("concurrency", 64, "attempts executed at once")
	flag.Parse()
	worker.Register("bench_noop", func(ctx context.Context, _ json.RawMessage) (float64, error) {
		return float64(time.Now().UnixNano()) / 1e6, nil
	})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := worker.Run(ctx, worker.WithConcurrency(*concurrency)); err != nil {
		log.Fatal(err)
	}
}
