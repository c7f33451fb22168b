// Package taskwire is the Go client of the taskwire background-task broker.
//
// A [Client] talks to the broker's gRPC API (service taskwire.v1.TaskService):
// it submits runs of named tasks, reads and waits for their state, follows
// their events and cancels them. The generated protobuf and gRPC code lives
// in the gen/taskwire/v1 package (import path
// github.com/taskwire/taskwire/clients/go/gen/taskwire/v1); this package
// re-exports the types a caller needs as aliases ([Run], [Event], [RunState],
// [EventType], ...), so most programs import only taskwire.
//
// Quick start:
//
//	client, err := taskwire.Dial(ctx, "") // TASKWIRE_ADDRESS or localhost:50051
//	if err != nil { ... }
//	defer client.Close()
//
//	run, err := client.Submit(ctx, "add", taskwire.JSONArgs(2, 3))
//	if err != nil { ... }
//	run, err = client.Wait(ctx, run.GetId())
//	if err != nil { ... }
//	sum, err := taskwire.DecodeResult[int](run) // ErrRunFailed if the run failed
//
// Arguments are sent as an application/json [Payload] holding a JSON array of
// positional arguments; results come back as JSON payloads, decoded with
// [ResultInto] or [DecodeResult].
//
// Every method takes a [context.Context]. Errors returned by the broker are
// [*Error] values: status.Code(err) yields their gRPC code, and errors.Is
// matches them against sentinels such as [ErrNotFound] or
// [ErrInvalidArgument].
//
// Every [Client.Submit] carries an idempotency key (when given) or else a
// request id (a UUIDv7 made for the call, see [WithRequestIDs]), and the
// client retries transient failures (UNAVAILABLE; for Submit also the
// broker's retryable ABORTED) with the same key or request id, with
// exponential backoff and jitter within ctx's deadline: see [CallRetry].
package taskwire

// Version is the version of this client library. It is sent in the gRPC
// user agent ("taskwire-go/<Version>").
const Version = "0.1.0"

// DefaultAddress is the broker address used when [Dial] is given an empty
// address and the TASKWIRE_ADDRESS environment variable is unset or empty.
const DefaultAddress = "localhost:50051"

// AddressEnv is the environment variable [Dial] reads the broker address
// from when it is given an empty address.
const AddressEnv = "TASKWIRE_ADDRESS"
