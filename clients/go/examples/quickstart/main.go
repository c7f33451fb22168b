// Command quickstart submits the demo worker's "add" task with 2 and 3,
// waits for the result and prints the run's events. Start a broker with
// the demo worker first; the address comes from TASKWIRE_ADDRESS (default
// localhost:50051).
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	taskwire "github.com/taskwire/taskwire/clients/go"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// [START connect]
	client, err := taskwire.Dial(ctx, "") // "" = $TASKWIRE_ADDRESS or localhost:50051
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	// [END connect]

	// [START submit]
	run, err := client.Submit(ctx, "add", taskwire.JSONArgs(2, 3),
		taskwire.WithRetry(taskwire.RetryPolicy{MaxRetries: 3}),
		taskwire.WithTimeout(30*time.Second),
	)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("submitted", run.GetId(), run.GetState())
	// [END submit]

	// [START wait]
	run, err = client.Wait(ctx, run.GetId())
	if err != nil {
		log.Fatal(err)
	}
	sum, err := taskwire.DecodeResult[int](run) // errors.Is(err, taskwire.ErrRunFailed) if it failed
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("result", sum)
	// [END wait]

	// [START events]
	filter := taskwire.EventFilter{RunIDs: []string{run.GetId()}, UntilTerminal: true}
	for ev, err := range client.StreamEvents(ctx, filter) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("event", ev.GetType(), ev.GetState(), "cursor", ev.GetCursor())
	}
	// [END events]
}
