// Mocha's spec reporter, plus one line for each test that failed and was
// tried again (`make test` runs mocha with --retries 1 under CI=true, so a
// timing flake on a loaded CI machine does not hide the rest of the run).
// A retried test is never silent: its first failure is printed here, and
// scripts/summarize.py lists it under "retried tests" above the final line.
"use strict";
const Mocha = require("mocha");

const { EVENT_TEST_RETRY } = Mocha.Runner.constants;

class SpecWithRetries extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.on(EVENT_TEST_RETRY, (test, err) => {
      const first = String((err && err.message) || err).split("\n")[0].slice(0, 200);
      process.stdout.write(`  ↻ retried: ${test.fullTitle()} -- ${first}\n`);
    });
  }
}

module.exports = SpecWithRetries;
