package taskwire

import (
	"context"

	taskwirev1 "github.com/taskwire/taskwire/clients/go/gen/taskwire/v1"
)

// Schedule is a cron schedule as the broker stores it.
type Schedule = taskwirev1.Schedule

// ScheduleSpec describes a cron schedule for [Client.CreateSchedule].
type ScheduleSpec struct {
	// Name is the schedule's key: 1–128 characters of [A-Za-z0-9_-].
	// Creating an existing name replaces that schedule.
	Name string
	// Cron has 5 fields (minute hour day-of-month month day-of-week) or 6
	// with seconds first, e.g. "0 9 * * 1-5".
	Cron string
	// Timezone is the IANA zone the expression is read in. Default "UTC".
	Timezone string
	// Task, Args and Options are what each fire submits, as for [Client.Submit].
	Task    string
	Args    any
	Options []SubmitOption
	// Paused creates the schedule paused.
	Paused bool
}

// CreateSchedule creates or replaces a cron schedule. Each fire submits
// exactly one run, whatever the number of brokers; schedules survive broker
// restarts.
func (c *Client) CreateSchedule(ctx context.Context, spec ScheduleSpec) (*Schedule, error) {
	run, _, err := buildSubmit(spec.Task, spec.Args, spec.Options)
	if err != nil {
		return nil, err
	}
	resp, err := c.api.CreateSchedule(ctx, &taskwirev1.CreateScheduleRequest{Schedule: &taskwirev1.Schedule{
		Name: spec.Name, Cron: spec.Cron, Timezone: spec.Timezone, Run: run, Paused: spec.Paused,
	}})
	if err != nil {
		return nil, convertError(ctx, err)
	}
	return resp.GetSchedule(), nil
}

// ListSchedules lists every schedule, by name.
func (c *Client) ListSchedules(ctx context.Context) ([]*Schedule, error) {
	resp, err := c.api.ListSchedules(ctx, &taskwirev1.ListSchedulesRequest{})
	if err != nil {
		return nil, convertError(ctx, err)
	}
	return resp.GetSchedules(), nil
}

// PauseSchedule pauses a schedule; [ErrNotFound] when there is none by that name.
func (c *Client) PauseSchedule(ctx context.Context, name string) (*Schedule, error) {
	return c.setPaused(ctx, name, true)
}

// ResumeSchedule resumes a paused schedule; it fires next at its first cron
// time after now.
func (c *Client) ResumeSchedule(ctx context.Context, name string) (*Schedule, error) {
	return c.setPaused(ctx, name, false)
}

func (c *Client) setPaused(ctx context.Context, name string, paused bool) (*Schedule, error) {
	resp, err := c.api.PauseSchedule(ctx, &taskwirev1.PauseScheduleRequest{Name: name, Paused: paused})
	if err != nil {
		return nil, convertError(ctx, err)
	}
	return resp.GetSchedule(), nil
}

// DeleteSchedule deletes a schedule; runs it already submitted go on.
func (c *Client) DeleteSchedule(ctx context.Context, name string) error {
	if _, err := c.api.DeleteSchedule(ctx, &taskwirev1.DeleteScheduleRequest{Name: name}); err != nil {
		return convertError(ctx, err)
	}
	return nil
}
