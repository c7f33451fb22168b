import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from taskwire.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TriggerEvent(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIGGER_EVENT_UNSPECIFIED: _ClassVar[TriggerEvent]
    TRIGGER_EVENT_FAILED: _ClassVar[TriggerEvent]
    TRIGGER_EVENT_DEAD_LETTERED: _ClassVar[TriggerEvent]
    TRIGGER_EVENT_TIMED_OUT: _ClassVar[TriggerEvent]
    TRIGGER_EVENT_CRASHED: _ClassVar[TriggerEvent]
    TRIGGER_EVENT_COMPLETED: _ClassVar[TriggerEvent]
    TRIGGER_EVENT_CANCELLED: _ClassVar[TriggerEvent]
    TRIGGER_EVENT_RETRY_SCHEDULED: _ClassVar[TriggerEvent]
    TRIGGER_EVENT_EXPIRED: _ClassVar[TriggerEvent]
    TRIGGER_EVENT_SUBMITTED: _ClassVar[TriggerEvent]
    TRIGGER_EVENT_STARTED: _ClassVar[TriggerEvent]
TRIGGER_EVENT_UNSPECIFIED: TriggerEvent
TRIGGER_EVENT_FAILED: TriggerEvent
TRIGGER_EVENT_DEAD_LETTERED: TriggerEvent
TRIGGER_EVENT_TIMED_OUT: TriggerEvent
TRIGGER_EVENT_CRASHED: TriggerEvent
TRIGGER_EVENT_COMPLETED: TriggerEvent
TRIGGER_EVENT_CANCELLED: TriggerEvent
TRIGGER_EVENT_RETRY_SCHEDULED: TriggerEvent
TRIGGER_EVENT_EXPIRED: TriggerEvent
TRIGGER_EVENT_SUBMITTED: TriggerEvent
TRIGGER_EVENT_STARTED: TriggerEvent

class EventCondition(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedScalarFieldContainer[TriggerEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[TriggerEvent, str]]] = ...) -> None: ...

class ThresholdCondition(_message.Message):
    __slots__ = ("events", "count", "window_ms")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_MS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedScalarFieldContainer[TriggerEvent]
    count: int
    window_ms: int
    def __init__(self, events: _Optional[_Iterable[_Union[TriggerEvent, str]]] = ..., count: _Optional[int] = ..., window_ms: _Optional[int] = ...) -> None: ...

class QueueAgeCondition(_message.Message):
    __slots__ = ("older_than_ms",)
    OLDER_THAN_MS_FIELD_NUMBER: _ClassVar[int]
    older_than_ms: int
    def __init__(self, older_than_ms: _Optional[int] = ...) -> None: ...

class RunningCondition(_message.Message):
    __slots__ = ("longer_than_ms",)
    LONGER_THAN_MS_FIELD_NUMBER: _ClassVar[int]
    longer_than_ms: int
    def __init__(self, longer_than_ms: _Optional[int] = ...) -> None: ...

class AutomationTrigger(_message.Message):
    __slots__ = ("tasks", "queues", "labels", "on_event", "threshold", "queue_age", "running")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TASKS_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    ON_EVENT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    QUEUE_AGE_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedScalarFieldContainer[str]
    queues: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.ScalarMap[str, str]
    on_event: EventCondition
    threshold: ThresholdCondition
    queue_age: QueueAgeCondition
    running: RunningCondition
    def __init__(self, tasks: _Optional[_Iterable[str]] = ..., queues: _Optional[_Iterable[str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., on_event: _Optional[_Union[EventCondition, _Mapping]] = ..., threshold: _Optional[_Union[ThresholdCondition, _Mapping]] = ..., queue_age: _Optional[_Union[QueueAgeCondition, _Mapping]] = ..., running: _Optional[_Union[RunningCondition, _Mapping]] = ...) -> None: ...

class WebhookAction(_message.Message):
    __slots__ = ("url", "headers", "timeout_ms")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    URL_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    url: str
    headers: _containers.ScalarMap[str, str]
    timeout_ms: int
    def __init__(self, url: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class ChatAction(_message.Message):
    __slots__ = ("url", "text", "timeout_ms")
    URL_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    url: str
    text: str
    timeout_ms: int
    def __init__(self, url: _Optional[str] = ..., text: _Optional[str] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class SubmitAction(_message.Message):
    __slots__ = ("task", "options")
    TASK_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    task: str
    options: _types_pb2.SubmitOptions
    def __init__(self, task: _Optional[str] = ..., options: _Optional[_Union[_types_pb2.SubmitOptions, _Mapping]] = ...) -> None: ...

class CancelRunAction(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class RetryRunAction(_message.Message):
    __slots__ = ("max_attempts",)
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    max_attempts: int
    def __init__(self, max_attempts: _Optional[int] = ...) -> None: ...

class PauseScheduleAction(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class AutomationAction(_message.Message):
    __slots__ = ("webhook", "chat", "submit", "cancel_run", "retry_run", "pause_schedule")
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    CHAT_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_RUN_FIELD_NUMBER: _ClassVar[int]
    RETRY_RUN_FIELD_NUMBER: _ClassVar[int]
    PAUSE_SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    webhook: WebhookAction
    chat: ChatAction
    submit: SubmitAction
    cancel_run: CancelRunAction
    retry_run: RetryRunAction
    pause_schedule: PauseScheduleAction
    def __init__(self, webhook: _Optional[_Union[WebhookAction, _Mapping]] = ..., chat: _Optional[_Union[ChatAction, _Mapping]] = ..., submit: _Optional[_Union[SubmitAction, _Mapping]] = ..., cancel_run: _Optional[_Union[CancelRunAction, _Mapping]] = ..., retry_run: _Optional[_Union[RetryRunAction, _Mapping]] = ..., pause_schedule: _Optional[_Union[PauseScheduleAction, _Mapping]] = ...) -> None: ...

class AutomationFiring(_message.Message):
    __slots__ = ("time", "id", "run_id", "task", "summary", "action_run_ids")
    TIME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ACTION_RUN_IDS_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    id: str
    run_id: str
    task: str
    summary: str
    action_run_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., id: _Optional[str] = ..., run_id: _Optional[str] = ..., task: _Optional[str] = ..., summary: _Optional[str] = ..., action_run_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AutomationStatus(_message.Message):
    __slots__ = ("fired", "suppressed", "last_fired_at", "recent", "last_error", "last_error_at")
    FIRED_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    LAST_FIRED_AT_FIELD_NUMBER: _ClassVar[int]
    RECENT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_AT_FIELD_NUMBER: _ClassVar[int]
    fired: int
    suppressed: int
    last_fired_at: _timestamp_pb2.Timestamp
    recent: _containers.RepeatedCompositeFieldContainer[AutomationFiring]
    last_error: str
    last_error_at: _timestamp_pb2.Timestamp
    def __init__(self, fired: _Optional[int] = ..., suppressed: _Optional[int] = ..., last_fired_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recent: _Optional[_Iterable[_Union[AutomationFiring, _Mapping]]] = ..., last_error: _Optional[str] = ..., last_error_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Automation(_message.Message):
    __slots__ = ("name", "description", "trigger", "actions", "cooldown_ms", "paused", "delivery_retry", "secret", "namespace", "created_at", "updated_at", "status")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_MS_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_RETRY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    trigger: AutomationTrigger
    actions: _containers.RepeatedCompositeFieldContainer[AutomationAction]
    cooldown_ms: int
    paused: bool
    delivery_retry: _types_pb2.RetryPolicy
    secret: str
    namespace: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    status: AutomationStatus
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., trigger: _Optional[_Union[AutomationTrigger, _Mapping]] = ..., actions: _Optional[_Iterable[_Union[AutomationAction, _Mapping]]] = ..., cooldown_ms: _Optional[int] = ..., paused: _Optional[bool] = ..., delivery_retry: _Optional[_Union[_types_pb2.RetryPolicy, _Mapping]] = ..., secret: _Optional[str] = ..., namespace: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[AutomationStatus, _Mapping]] = ...) -> None: ...

class CreateAutomationRequest(_message.Message):
    __slots__ = ("automation",)
    AUTOMATION_FIELD_NUMBER: _ClassVar[int]
    automation: Automation
    def __init__(self, automation: _Optional[_Union[Automation, _Mapping]] = ...) -> None: ...

class CreateAutomationResponse(_message.Message):
    __slots__ = ("automation", "secret")
    AUTOMATION_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    automation: Automation
    secret: str
    def __init__(self, automation: _Optional[_Union[Automation, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class ListAutomationsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAutomationsResponse(_message.Message):
    __slots__ = ("automations", "next_page_token")
    AUTOMATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    automations: _containers.RepeatedCompositeFieldContainer[Automation]
    next_page_token: str
    def __init__(self, automations: _Optional[_Iterable[_Union[Automation, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetAutomationRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetAutomationResponse(_message.Message):
    __slots__ = ("automation",)
    AUTOMATION_FIELD_NUMBER: _ClassVar[int]
    automation: Automation
    def __init__(self, automation: _Optional[_Union[Automation, _Mapping]] = ...) -> None: ...

class PauseAutomationRequest(_message.Message):
    __slots__ = ("name", "paused")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    name: str
    paused: bool
    def __init__(self, name: _Optional[str] = ..., paused: _Optional[bool] = ...) -> None: ...

class PauseAutomationResponse(_message.Message):
    __slots__ = ("automation",)
    AUTOMATION_FIELD_NUMBER: _ClassVar[int]
    automation: Automation
    def __init__(self, automation: _Optional[_Union[Automation, _Mapping]] = ...) -> None: ...

class DeleteAutomationRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteAutomationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
