// How errors inside a handler become gRPC statuses: a NATS outage is
// UNAVAILABLE (clients retry it), anything unexpected INTERNAL.
import assert from "node:assert/strict";
import { status as Status } from "@grpc/grpc-js";
import { JetStreamApiError } from "@nats-io/jetstream";
import { BrokerError, toServiceError } from "../src/errors.js";

describe("toServiceError", function () {
  it("answers JetStream's 503s UNAVAILABLE (a leader election), naming the cause and what to do", function () {
    const tempUnavailable = new JetStreamApiError({ code: 503, err_code: 10008, description: "JetStream system temporarily unavailable" });
    const se = toServiceError(tempUnavailable);
    assert.equal(se.code, Status.UNAVAILABLE);
    assert.match(se.details ?? "", /temporarily unavailable/);
    assert.match(se.details ?? "", /retry the call/);
    assert.equal(toServiceError(new Error("JetStream system temporarily unavailable")).code, Status.UNAVAILABLE);
  });

  it("answers a publish the stream is still deciding (duplicate message id in process) UNAVAILABLE: retrying it is safe", function () {
    const inProcess = new JetStreamApiError({ code: 409, err_code: 10158, description: "duplicate message id is in process" });
    assert.equal(toServiceError(inProcess).code, Status.UNAVAILABLE);
  });

  it("keeps other JetStream API errors and unexpected errors INTERNAL, and a BrokerError's own code", function () {
    assert.equal(toServiceError(new JetStreamApiError({ code: 500, err_code: 10049, description: "something broke" })).code, Status.INTERNAL);
    assert.equal(toServiceError(new TypeError("x is undefined")).code, Status.INTERNAL);
    assert.equal(toServiceError(BrokerError.invalid("task", "empty")).code, Status.INVALID_ARGUMENT);
  });
});
