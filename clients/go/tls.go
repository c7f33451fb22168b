package taskwire

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"

	"google.golang.org/grpc/credentials"
)

// Environment variables the client reads when no option says otherwise.
const (
	// TokenEnv holds the bearer token sent when [WithToken] is not given.
	TokenEnv = "TASKWIRE_TOKEN"
	// TLSCAEnv names a PEM CA bundle; when set, the client connects with TLS.
	TLSCAEnv = "TASKWIRE_TLS_CA"
	// TLSEnv set to true turns TLS on with the system's roots.
	TLSEnv = "TASKWIRE_TLS"
	// TLSCertEnv and TLSKeyEnv name the client certificate and key (mTLS), used when TLS is on.
	TLSCertEnv = "TASKWIRE_TLS_CERT"
	TLSKeyEnv  = "TASKWIRE_TLS_KEY"
)

// WithTLSFiles connects with TLS: caFile is a PEM CA bundle the broker's
// certificate must chain to ("" = the system's roots); certFile and keyFile
// are the client certificate and key for brokers that require mTLS (both
// "" for none). Files are read when Dial is called.
func WithTLSFiles(caFile, certFile, keyFile string) ClientOption {
	return func(c *clientConfig) {
		c.tlsFiles = &tlsFiles{ca: caFile, cert: certFile, key: keyFile}
	}
}

type tlsFiles struct{ ca, cert, key string }

// tlsFromEnv: TLS is on when TASKWIRE_TLS_CA is set or TASKWIRE_TLS is true;
// then TASKWIRE_TLS_CERT / TASKWIRE_TLS_KEY are the client certificate.
func tlsFromEnv() *tlsFiles {
	on := os.Getenv(TLSCAEnv) != ""
	switch strings.ToLower(os.Getenv(TLSEnv)) {
	case "1", "true", "yes", "on":
		on = true
	}
	if !on {
		return nil
	}
	return &tlsFiles{ca: os.Getenv(TLSCAEnv), cert: os.Getenv(TLSCertEnv), key: os.Getenv(TLSKeyEnv)}
}

func (f *tlsFiles) credentials() (credentials.TransportCredentials, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.ca != "" {
		pem, err := os.ReadFile(f.ca)
		if err != nil {
			return nil, fmt.Errorf("taskwire: TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("taskwire: TLS CA %s holds no PEM certificate", f.ca)
		}
		cfg.RootCAs = pool
	}
	if (f.cert == "") != (f.key == "") {
		return nil, fmt.Errorf("taskwire: a TLS client certificate needs its key (%s and %s go together)", TLSCertEnv, TLSKeyEnv)
	}
	if f.cert != "" {
		pair, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("taskwire: TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(cfg), nil
}

// isLoopback reports whether addr ("host:port") names this host only, where
// a bearer token over plaintext never leaves the machine.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
