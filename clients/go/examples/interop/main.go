// Command interop drives a taskwire broker from the command line, for
// cross-language interop tests (the broker address comes from -addr or
// TASKWIRE_ADDRESS, default localhost:50051):
//
//	interop submit TASK ARGS_JSON   submit a run; prints its id
//	interop result RUN_ID           wait for the run; prints its JSON result
//	interop events RUN_ID           prints each event type (EVENT_TYPE_...) until the run is terminal
//
// ARGS_JSON is a JSON array of positional arguments (any other JSON value
// is passed as the single argument). result exits with status 1 when the
// run failed or was cancelled, printing the failure to stderr. Every
// command fails after -timeout.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	taskwire "github.com/taskwire/taskwire/clients/go"
)

func main() {
	addr := flag.String("addr", "", "broker address (default $TASKWIRE_ADDRESS or localhost:50051)")
	timeout := flag.Duration("timeout", 60*time.Second, "overall timeout")
	idemKey := flag.String("idempotency-key", "", "submit: idempotency key")
	queue := flag.String("queue", "", "submit: queue (default \"default\")")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: interop [flags] submit TASK ARGS_JSON | result RUN_ID | events RUN_ID\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	args := flag.Args()
	if len(args) < 2 {
		flag.Usage()
		os.Exit(2)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	client, err := taskwire.Dial(ctx, *addr)
	if err != nil {
		fatal(err)
	}
	defer client.Close()

	switch cmd := args[0]; {
	case cmd == "submit" && len(args) == 3:
		if !json.Valid([]byte(args[2])) {
			fatal(fmt.Errorf("ARGS_JSON is not valid JSON: %s", args[2]))
		}
		var opts []taskwire.SubmitOption
		if *idemKey != "" {
			opts = append(opts, taskwire.WithIdempotencyKey(*idemKey))
		}
		if *queue != "" {
			opts = append(opts, taskwire.WithQueue(*queue))
		}
		run, err := client.Submit(ctx, args[1], json.RawMessage(args[2]), opts...)
		if err != nil {
			fatal(err)
		}
		fmt.Println(run.GetId())

	case cmd == "result" && len(args) == 2:
		run, err := client.Wait(ctx, args[1])
		if err != nil {
			fatal(err)
		}
		if run.GetState() != taskwire.StateCompleted {
			// Reports the failure via the client's RunError.
			fatal(taskwire.ResultInto(run, new(any)))
		}
		data := run.GetResult().GetData()
		var out bytes.Buffer
		if err := json.Compact(&out, data); err != nil {
			fatal(fmt.Errorf("result is not JSON: %w", err))
		}
		fmt.Println(out.String())

	case cmd == "events" && len(args) == 2:
		filter := taskwire.EventFilter{RunIDs: []string{args[1]}, UntilTerminal: true}
		for ev, err := range client.StreamEvents(ctx, filter) {
			if err != nil {
				fatal(err)
			}
			fmt.Println(ev.GetType())
		}

	default:
		flag.Usage()
		os.Exit(2)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "interop:", err)
	os.Exit(1)
}
