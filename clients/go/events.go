package taskwire

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"

	taskwirev1 "github.com/taskwire/taskwire/clients/go/gen/taskwire/v1"
	"google.golang.org/grpc/codes"
)

// EventFilter selects the events of [Client.StreamEvents]. Filters combine
// with AND; empty lists do not filter.
type EventFilter struct {
	// RunIDs keeps only events of these runs. With run ids and no
	// AfterCursor the stream starts with each run's earliest retained event
	// (full history).
	RunIDs []string
	// Tasks keeps only events of these tasks.
	Tasks []string
	// States keeps only events whose run is in one of these states after
	// the event.
	States []RunState
	// AfterCursor resumes strictly after this cursor (an Event.Cursor, or
	// the cursor of a heartbeat). Without run ids and without a cursor the
	// stream starts with new events only.
	AfterCursor string
	// HeartbeatInterval of the broker's heartbeats on an idle stream
	// (min 100 ms, max 5 min, whole ms rounded up). 0 = default 15 s.
	HeartbeatInterval time.Duration
	// UntilTerminal ends the stream once every run in RunIDs is terminal.
	UntilTerminal bool
}

// StreamOption configures [Client.StreamEvents].
type StreamOption func(*streamConfig)

type streamConfig struct {
	maxReconnects int
	initial, max  time.Duration
	onHeartbeat   func(cursor string)
}

// WithMaxReconnects sets how many times in a row StreamEvents reconnects
// after a transient failure (UNAVAILABLE, ABORTED, or a reset stream)
// without receiving anything in between. Default 10; 0 disables
// reconnecting; a negative value retries until the context is done.
func WithMaxReconnects(n int) StreamOption {
	return func(c *streamConfig) { c.maxReconnects = n }
}

// WithReconnectBackoff sets the delay before the first reconnect and its
// cap; the delay doubles per failed reconnect. Default 100 ms, capped at
// 5 s.
func WithReconnectBackoff(initial, max time.Duration) StreamOption {
	return func(c *streamConfig) { c.initial, c.max = initial, max }
}

// WithHeartbeatFunc calls fn with the cursor of every heartbeat the broker
// sends (its scan position; may be empty). Heartbeats are not yielded as
// events.
func WithHeartbeatFunc(fn func(cursor string)) StreamOption {
	return func(c *streamConfig) { c.onHeartbeat = fn }
}

// StreamEvents follows run events live, as an iterator:
//
//	for ev, err := range client.StreamEvents(ctx, taskwire.EventFilter{RunIDs: []string{id}, UntilTerminal: true}) {
//		if err != nil { return err }
//		fmt.Println(ev.GetType())
//	}
//
// The iteration ends when the loop breaks, with UntilTerminal once the
// broker has closed the stream because the runs are terminal, or with an
// error, yielded once as the last element (cancelling ctx ends it with an
// error matching context.Canceled). Events are not yielded twice.
//
// On a transient failure (the connection drops, the broker restarts:
// UNAVAILABLE or ABORTED, or the broker ends a stream cleanly on shutdown
// before UntilTerminal is satisfied or while following) it reconnects with
// AfterCursor set to the cursor of the last event or heartbeat received, so
// no event is lost or repeated (see [WithMaxReconnects],
// [WithReconnectBackoff]). Exception: a stream with neither run ids nor a
// cursor that drops before its first event or heartbeat restarts at "new
// events only".
func (c *Client) StreamEvents(ctx context.Context, filter EventFilter, opts ...StreamOption) iter.Seq2[*Event, error] {
	cfg := streamConfig{maxReconnects: 10, initial: 100 * time.Millisecond, max: 5 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	return func(yield func(*Event, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		cursor := filter.AfterCursor
		failures := 0
		bo := newBackoff(cfg.initial, cfg.max)
		// Runs of filter.RunIDs seen in a terminal state, for UntilTerminal.
		terminal := map[string]bool{}
		for {
			req := &taskwirev1.StreamEventsRequest{
				RunIds:              append([]string(nil), filter.RunIDs...),
				Tasks:               append([]string(nil), filter.Tasks...),
				States:              append([]RunState(nil), filter.States...),
				AfterCursor:         cursor,
				HeartbeatIntervalMs: durationMs(filter.HeartbeatInterval),
				UntilTerminal:       filter.UntilTerminal,
			}
			received := 0
			err := func() error {
				stream, err := c.api.StreamEvents(ctx, req)
				if err != nil {
					return err
				}
				for {
					msg, err := stream.Recv()
					if err != nil {
						return err
					}
					received++
					failures = 0
					bo.reset()
					switch k := msg.GetKind().(type) {
					case *taskwirev1.StreamEventsResponse_Event:
						if cur := k.Event.GetCursor(); cur != "" {
							cursor = cur
						}
						if IsTerminal(k.Event.GetState()) {
							terminal[k.Event.GetRunId()] = true
						}
						if !yield(k.Event, nil) {
							return errStop
						}
					case *taskwirev1.StreamEventsResponse_Heartbeat:
						if cur := k.Heartbeat.GetCursor(); cur != "" {
							cursor = cur
						}
						if cfg.onHeartbeat != nil {
							cfg.onHeartbeat(k.Heartbeat.GetCursor())
						}
					}
				}
			}()
			canRetry := ctx.Err() == nil && (cfg.maxReconnects < 0 || failures < cfg.maxReconnects)
			switch {
			case err == errStop:
				return
			case err == io.EOF:
				// The broker ended the stream normally. That is the end when
				// UntilTerminal is satisfied, but a broker shutting down also
				// ends open streams cleanly and expects clients to resume
				// elsewhere with their cursor: do so, unless the broker ended
				// a fresh stream at once (nothing left to send).
				if filter.UntilTerminal && (received == 0 || allSeen(filter.RunIDs, terminal)) {
					return
				}
				if !canRetry {
					return
				}
			case canRetry && transient(err):
			default:
				yield(nil, convertError(ctx, err))
				return
			}
			failures++
			if bo.sleep(ctx) != nil {
				yield(nil, ctxError(ctx))
				return
			}
		}
	}
}

// allSeen reports whether every id is in seen.
func allSeen(ids []string, seen map[string]bool) bool {
	for _, id := range ids {
		if !seen[id] {
			return false
		}
	}
	return true
}

var errStop = errors.New("stop")

// transient reports whether a stream error is worth a reconnect.
func transient(err error) bool {
	var e *Error
	code := codes.Unknown
	if errors.As(convertError(context.Background(), err), &e) {
		code = e.Code
	}
	switch code {
	case codes.Unavailable, codes.Aborted:
		return true
	case codes.Internal:
		// An HTTP/2 stream reset by a proxy or a dying server.
		return e != nil && containsFold(e.Message, "RST_STREAM")
	}
	return false
}
