package taskwire

import (
	"context"
	"strings"
	"testing"
)

func TestTLSFromEnv(t *testing.T) {
	t.Setenv(TLSCAEnv, "")
	t.Setenv(TLSEnv, "")
	t.Setenv(TLSCertEnv, "/server.pem") // the broker's own setting alone does not turn client TLS on
	if f := tlsFromEnv(); f != nil {
		t.Fatalf("TLS on without TASKWIRE_TLS_CA or TASKWIRE_TLS: %+v", f)
	}
	t.Setenv(TLSCAEnv, "/ca.pem")
	t.Setenv(TLSKeyEnv, "/k.pem")
	if f := tlsFromEnv(); f == nil || f.ca != "/ca.pem" || f.cert != "/server.pem" || f.key != "/k.pem" {
		t.Fatalf("tlsFromEnv = %+v", f)
	}
}

func TestTLSFilesErrors(t *testing.T) {
	t.Setenv(TLSCAEnv, "")
	t.Setenv(TLSEnv, "")
	if _, err := Dial(context.Background(), "127.0.0.1:1", WithTLSFiles("/nonexistent/ca.pem", "", "")); err == nil || !strings.Contains(err.Error(), "TLS CA") {
		t.Fatalf("missing CA file: %v", err)
	}
	if _, err := Dial(context.Background(), "127.0.0.1:1", WithTLSFiles("", "/c.pem", "")); err == nil || !strings.Contains(err.Error(), "needs its key") {
		t.Fatalf("cert without key: %v", err)
	}
}

func TestTokenFromEnv(t *testing.T) {
	t.Setenv(TLSCAEnv, "")
	t.Setenv(TLSEnv, "")
	t.Setenv(TokenEnv, "t0k")
	// Over plaintext, TASKWIRE_TOKEN goes to a loopback broker only.
	c, err := Dial(context.Background(), "127.0.0.1:1")
	if err != nil {
		t.Fatalf("loopback: %v", err)
	}
	c.Close()
	if _, err := Dial(context.Background(), "broker.example:50051"); err == nil {
		t.Fatal("a token over plaintext to another host must be refused")
	}
}
