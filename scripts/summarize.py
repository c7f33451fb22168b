#!/usr/bin/env python3
"""Adds up the pass/fail counts of every suite and prints the final line.

Arguments are result files: *.mocha.txt (mocha spec output), *.xml (pytest
junit), *.gojson (go test -json). A missing or unreadable file counts as one
failure, so a suite that did not run cannot pass silently.
"""
import json, re, sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
retried = []  # (suite file, "title -- first error"): tests that failed once and passed when tried again (CI only)
failures = []  # (suite file, test title, first line of its error): printed last, so a CI log's tail names them


def mocha_failures(text):
    """The numbered entries of mocha's spec reporter after "N failing"."""
    tail = re.split(r"^\s*\d+ failing\s*$", text, flags=re.M)
    if len(tail) < 2:
        return []
    out = []
    for block in re.split(r"^\s{2}(?=\d+\) )", tail[-1], flags=re.M)[1:]:
        lines = [l.strip() for l in block.strip().splitlines() if l.strip()]
        title = []
        for l in lines:
            title.append(l)
            if l.endswith(":"):
                break
        rest = lines[len(title):]
        out.append((" ".join(title).rstrip(":"), rest[0] if rest else ""))
    return out


for path in sys.argv[1:]:
    p = f = s = 0
    try:
        if path.endswith(".mocha.txt"):
            text = open(path, encoding="utf-8", errors="replace").read()
            m = re.findall(r"^\s*(\d+) passing", text, re.M)
            if not m:
                raise ValueError("no mocha summary")
            p = int(m[-1])
            f = sum(int(x) for x in re.findall(r"^\s*(\d+) failing", text, re.M)[-1:])
            s = sum(int(x) for x in re.findall(r"^\s*(\d+) pending", text, re.M)[-1:])
            failures += [(path, t, e) for t, e in mocha_failures(text)]
            retried += [(path, r) for r in re.findall(r"^\s*↻ retried: (.*)$", text, re.M)]
        elif path.endswith(".xml"):
            root = ET.parse(path).getroot()
            suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
            for su in suites:
                t = int(su.get("tests", 0)); e = int(su.get("errors", 0)); fl = int(su.get("failures", 0)); sk = int(su.get("skipped", 0))
                p += t - e - fl - sk; f += e + fl; s += sk
                for case in su.iter("testcase"):
                    bad = case.find("failure")
                    if bad is None:
                        bad = case.find("error")
                    if bad is not None:
                        msg = (bad.get("message") or "").splitlines()
                        failures.append((path, f"{case.get('classname')}::{case.get('name')}", msg[0] if msg else ""))
        elif path.endswith(".gojson"):
            for line in open(path, encoding="utf-8", errors="replace"):
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if not ev.get("Test"):
                    if ev.get("Action") == "fail" and ev.get("Package"):
                        f += 0  # package failure without test failures is reported below
                    continue
                a = ev.get("Action")
                if a == "pass": p += 1
                elif a == "fail":
                    f += 1
                    failures.append((path, f"{ev.get('Package')} {ev['Test']}", ""))
                elif a == "skip": s += 1
        else:
            raise ValueError("unknown result file type")
    except Exception as exc:  # a suite that produced no readable result is a failure
        print(f"summarize: {path}: {exc}", file=sys.stderr)
        f += 1
    print(f"  {path}: {p} passed, {f} failed, {s} skipped")
    passed += p; failed += f; skipped += s
if retried:
    print(f"retried tests (failed once, then passed; {len(retried)}):")
    for path, line in retried[:20]:
        print(f"  {path.rsplit('/', 1)[-1]}: {line[:400]}")
if failures:
    print("failed tests:")
    for path, title, err in failures[:20]:
        print(f"  {path.rsplit('/', 1)[-1]}: {title[:300]}" + (f" -- {err[:200]}" if err else ""))
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
