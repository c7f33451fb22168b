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
// The iteration ends when the broker closes the stream (with UntilTerminal,
// once the runs are terminal), when the loop breaks, or with an error,
// yielded once as the last element (cancelling ctx ends it with an error
// matching context.Canceled). Events are not yielded twice.
//
// On a transient failure (the connection drops, the broker restarts:
// UNAVAILABLE or ABORTED) it reconnects with AfterCursor set to the cursor
// of the last event or heartbeat received, so no event is lost or repeated
// (see [WithMaxReconnects], [WithReconnectBackoff]). Exception: a stream
// with neither run ids nor a cursor that drops before its first event or
// heartbeat restarts at "new events only".
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
		for {
			req := &taskwirev1.StreamEventsRequest{
				RunIds:              append([]string(nil), filter.RunIDs...),
				Tasks:               append([]string(nil), filter.Tasks...),
				States:              append([]RunState(nil), filter.States...),
				AfterCursor:         cursor,
				HeartbeatIntervalMs: durationMs(filter.HeartbeatInterval),
				UntilTerminal:       filter.UntilTerminal,
			}
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
					failures = 0
					bo.reset()
					switch k := msg.GetKind().(type) {
					case *taskwirev1.StreamEventsResponse_Event:
						if cur := k.Event.GetCursor(); cur != "" {
							cursor = cur
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
			switch {
			case err == errStop || err == io.EOF:
				return
			case ctx.Err() == nil && transient(err) && (cfg.maxReconnects < 0 || failures < cfg.maxReconnects):
				failures++
				if bo.sleep(ctx) == nil {
					continue
				}
				yield(nil, ctxError(ctx))
				return
			default:
				yield(nil, convertError(ctx, err))
				return
			}
		}
	}
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
