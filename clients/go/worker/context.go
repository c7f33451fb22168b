package worker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// RunInfo is what a task sees of the run it executes.
type RunInfo struct {
	RunID   string
	Task    string
	Attempt int
	// Deadline of the attempt (zero without a timeout); ctx carries it too.
	Deadline  time.Time
	Queue     string
	Namespace string
	Labels    map[string]string
}

type runKey struct{}

// attemptCtx is what the context of a running attempt carries.
type attemptCtx struct {
	info     RunInfo
	log      func(level, msg string)
	progress func(fraction float64, message string)
	base     *slog.Logger
}

// Info returns the run the task executes; ok is false outside a task.
func Info(ctx context.Context) (RunInfo, bool) {
	a, ok := ctx.Value(runKey{}).(*attemptCtx)
	if !ok {
		return RunInfo{}, false
	}
	return a.info, true
}

// Progress reports the attempt's progress, 0–1 (coalesced by the broker to
// at most 4 writes a second). A no-op outside a task.
func Progress(ctx context.Context, fraction float64, message string) {
	if a, ok := ctx.Value(runKey{}).(*attemptCtx); ok {
		a.progress(fraction, message)
	}
}

// Logger returns the run's logger: every record becomes a log line of the
// run (an event on StreamEvents, kept in its record; at most 200 per
// attempt) and also goes to the worker's own logger. Attributes are written
// after the message as key=value. Outside a task it is the default logger.
func Logger(ctx context.Context) *slog.Logger {
	a, ok := ctx.Value(runKey{}).(*attemptCtx)
	if !ok {
		return slog.Default()
	}
	return slog.New(&runHandler{a: a, next: a.base.Handler().WithAttrs([]slog.Attr{slog.String("run_id", a.info.RunID), slog.Int("attempt", a.info.Attempt)})})
}

// runHandler sends records to the run and to the worker's logger.
type runHandler struct {
	a     *attemptCtx
	next  slog.Handler
	attrs []slog.Attr
	group string
}

func (h *runHandler) Enabled(ctx context.Context, l slog.Level) bool { return true }

func (h *runHandler) Handle(ctx context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	write := func(at slog.Attr) bool {
		key := at.Key
		if h.group != "" {
			key = h.group + "." + key
		}
		fmt.Fprintf(&b, " %s=%v", key, at.Value.Any())
		return true
	}
	for _, at := range h.attrs {
		write(at)
	}
	r.Attrs(write)
	level := "info"
	switch {
	case r.Level >= slog.LevelError:
		level = "error"
	case r.Level >= slog.LevelWarn:
		level = "warn"
	case r.Level < slog.LevelInfo:
		level = "debug"
	}
	h.a.log(level, b.String())
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *runHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &runHandler{a: h.a, next: h.next.WithAttrs(attrs), attrs: append(append([]slog.Attr{}, h.attrs...), attrs...), group: h.group}
}

func (h *runHandler) WithGroup(name string) slog.Handler {
	g := name
	if h.group != "" {
		g = h.group + "." + name
	}
	return &runHandler{a: h.a, next: h.next.WithGroup(name), attrs: h.attrs, group: g}
}
