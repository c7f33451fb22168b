// Command go-worker is the Go worker quick start: one typed task any
// service can submit by name.
//
//	cd examples/go-worker && go run .
//	npx taskwire submit go-resize-image --args '[{"url": "https://example.com/a.png", "width": 320}]' --wait
//
// Run by CI: clients/go/examples_worker_test.go.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/taskwire/taskwire/clients/go/worker"
)

type ResizeRequest struct {
	URL   string `json:"url"`
	Width int    `json:"width"`
}

type ResizeResult struct {
	URL   string `json:"url"`
	Bytes int    `json:"bytes"`
}

func main() {
	worker.Register("go-resize-image", func(ctx context.Context, req ResizeRequest) (ResizeResult, error) {
		worker.Logger(ctx).Info("resizing", "url", req.URL, "width", req.Width)
		if req.Width <= 0 {
			return ResizeResult{}, worker.NonRetryable(fmt.Errorf("width must be positive, got %d", req.Width))
		}
		worker.Progress(ctx, 0.5, "half way")
		return ResizeResult{URL: fmt.Sprintf("%s?w=%d", req.URL, req.Width), Bytes: req.Width * 100}, nil
	}, worker.Retries(3), worker.Timeout(30*time.Second))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := worker.Run(ctx); err != nil { // TASKWIRE_ADDRESS, else localhost:50051
		log.Fatal(err)
	}
}
