package taskwire

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ResultInto decodes a completed run's JSON result into v (a pointer, as
// for json.Unmarshal). When the run did not complete it returns a
// [*RunError] matching [ErrRunFailed], [ErrRunCancelled] or
// [ErrRunNotFinished]; a result whose content type is not JSON is an
// error too (use run.GetResult().GetData() for raw bytes).
func ResultInto(run *Run, v any) error {
	if run == nil {
		return errors.New("taskwire: nil run")
	}
	if run.GetState() != StateCompleted {
		return &RunError{Run: run}
	}
	res := run.GetResult()
	if ct := res.GetContentType(); ct != "" && ct != ContentTypeJSON {
		return fmt.Errorf("taskwire: run %s: result content type is %q, not JSON", run.GetId(), ct)
	}
	data := res.GetData()
	if len(data) == 0 {
		// A task that returned nothing (undefined / None).
		data = []byte("null")
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("taskwire: run %s: decoding result: %w", run.GetId(), err)
	}
	return nil
}

// DecodeResult is the generic form of [ResultInto]:
//
//	sum, err := taskwire.DecodeResult[int](run)
func DecodeResult[T any](run *Run) (T, error) {
	var v T
	err := ResultInto(run, &v)
	return v, err
}
