package taskwire

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// buildExample compiles ./examples/<name> into a temporary directory.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("go", "build", "-o", bin, "./examples/"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, out)
	}
	return bin
}

func runExample(t *testing.T, bin, addr string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), AddressEnv+"="+addr)
	out, err := cmd.Output()
	return string(out), err
}

func simulatedFake(t *testing.T) *fakeEnv {
	env := startFake(t)
	env.fake.mu.Lock()
	env.fake.simulate = true
	env.fake.mu.Unlock()
	return env
}

func TestInteropExample(t *testing.T) {
	bin := buildExample(t, "interop")
	env := simulatedFake(t)

	out, err := runExample(t, bin, env.addr, "submit", "cf-echo", `[{"a": [1, "é"]}]`)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	id := strings.TrimSpace(out)
	if !runIDPattern.MatchString(id) {
		t.Fatalf("submit printed %q", out)
	}
	out, err = runExample(t, bin, env.addr, "result", id)
	if err != nil || out != "{\"a\":[1,\"é\"]}\n" {
		t.Fatalf("result: %q %v", out, err)
	}
	out, err = runExample(t, bin, env.addr, "events", id)
	if err != nil || out != "EVENT_TYPE_SUBMITTED\nEVENT_TYPE_STARTED\nEVENT_TYPE_COMPLETED\n" {
		t.Fatalf("events: %q %v", out, err)
	}

	out, _ = runExample(t, bin, env.addr, "submit", "cf-fail", `["nope"]`)
	if _, err := runExample(t, bin, env.addr, "result", strings.TrimSpace(out)); err == nil {
		t.Fatal("result of a failed run: want a non-zero exit")
	}
	if _, err := runExample(t, bin, env.addr, "submit", "cf-echo", `[not json`); err == nil {
		t.Fatal("bad ARGS_JSON: want a non-zero exit")
	}
}

func TestQuickstartExample(t *testing.T) {
	bin := buildExample(t, "quickstart")
	env := simulatedFake(t)
	out, err := runExample(t, bin, env.addr)
	if err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}
	for _, want := range []string{"result 5\n", "event EVENT_TYPE_SUBMITTED", "event EVENT_TYPE_COMPLETED RUN_STATE_COMPLETED"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}

// The README's Go snippets marked "<!-- snippet: NAME -->" must be the
// [START NAME] … [END NAME] regions of examples/quickstart/main.go,
// verbatim apart from indentation.
func TestREADMESnippets(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("examples/quickstart/main.go")
	if err != nil {
		t.Fatal(err)
	}
	regions := map[string]string{}
	for _, m := range regexp.MustCompile(`(?s)// \[START (\w+)\]\n(.*?)\n\s*// \[END (\w+)\]`).FindAllStringSubmatch(string(src), -1) {
		if m[1] != m[3] {
			t.Fatalf("mismatched region %s/%s", m[1], m[3])
		}
		regions[m[1]] = dedent(m[2])
	}
	snippets := regexp.MustCompile("(?s)<!-- snippet: (\\w+) -->\n```go\n(.*?)\n```").FindAllStringSubmatch(string(readme), -1)
	if len(snippets) == 0 {
		t.Fatal("README has no snippets")
	}
	var seen []string
	for _, m := range snippets {
		want, ok := regions[m[1]]
		if !ok {
			t.Fatalf("README snippet %q: no such region in examples/quickstart", m[1])
		}
		if got := dedent(m[2]); got != want {
			t.Errorf("README snippet %q differs from examples/quickstart:\n--- README\n%s\n--- quickstart\n%s", m[1], got, want)
		}
		seen = append(seen, m[1])
	}
	for name := range regions {
		if !slices.Contains(seen, name) {
			t.Errorf("region %q of examples/quickstart is not in the README", name)
		}
	}
}

func dedent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, "\t")
	}
	return strings.Join(lines, "\n")
}

// The pinned plugin versions in scripts/install-tools.sh, the runtime
// versions in go.mod and the generated code must agree.
func TestPinnedVersions(t *testing.T) {
	script, err := os.ReadFile("scripts/install-tools.sh")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	pin := func(name string) string {
		m := regexp.MustCompile(name + `="?(v[0-9.]+)"?`).FindSubmatch(script)
		if m == nil {
			t.Fatalf("install-tools.sh does not pin %s", name)
		}
		return string(m[1])
	}
	genGo, genGrpc := pin("PROTOC_GEN_GO_VERSION"), pin("PROTOC_GEN_GO_GRPC_VERSION")
	if !strings.Contains(string(gomod), "google.golang.org/protobuf "+genGo+"\n") {
		t.Errorf("go.mod does not require google.golang.org/protobuf %s (the protoc-gen-go pin)", genGo)
	}
	for file, want := range map[string]string{
		"gen/taskwire/v1/types.pb.go":         "// \tprotoc-gen-go " + genGo + "\n",
		"gen/taskwire/v1/taskwire.pb.go":      "// \tprotoc-gen-go " + genGo + "\n",
		"gen/taskwire/v1/taskwire_grpc.pb.go": "// - protoc-gen-go-grpc " + genGrpc + "\n",
	} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), want) {
			t.Errorf("%s was not generated by %q: regenerate (scripts/generate.sh)", file, strings.TrimSpace(want))
		}
	}
}
