package taskwire

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGoWorkerExample runs examples/go-worker (a module of its own, as a
// user's would be) against the live broker at TASKWIRE_ADDRESS: its task is
// submitted by name, then the worker stops on SIGTERM.
func TestGoWorkerExample(t *testing.T) {
	addr := os.Getenv(AddressEnv)
	if addr == "" {
		t.Skip("TASKWIRE_ADDRESS is not set: the example needs a live broker")
	}
	dir, err := filepath.Abs("../../examples/go-worker")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gofmt", "-l", dir).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("gofmt: %v %s", err, out)
	}
	bin := filepath.Join(t.TempDir(), "go-worker")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build examples/go-worker: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), AddressEnv+"="+addr, "TASKWIRE_SHUTDOWN_GRACE_MS=2000")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	run, err := c.Submit(ctx, "go-resize-image", JSONArgs(map[string]any{"url": "https://example.com/a.png", "width": 320}))
	if err != nil {
		t.Fatal(err)
	}
	run, err = c.Wait(ctx, run.GetId())
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeResult[map[string]any](run)
	if err != nil || got["url"] != "https://example.com/a.png?w=320" || got["bytes"] != 32000.0 {
		t.Fatalf("result %v, %v (worker output: %s)", got, err, out.String())
	}
	if len(run.GetLogs()) != 1 || !strings.HasPrefix(run.GetLogs()[0].GetMessage(), "resizing url=https://example.com/a.png width=320") {
		t.Fatalf("logs: %v", run.GetLogs())
	}
	bad, err := c.Submit(ctx, "go-resize-image", JSONArgs(map[string]any{"url": "x", "width": 0}))
	if err != nil {
		t.Fatal(err)
	}
	if bad, err = c.Wait(ctx, bad.GetId()); err != nil || bad.GetState() != StateFailed || len(bad.GetAttempts()) != 1 {
		t.Fatalf("width 0 fails at once: %v %v", bad.GetState(), err)
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the worker did not exit cleanly on SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the worker did not stop on SIGTERM\n%s", out.String())
	}
}
