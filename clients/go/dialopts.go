package taskwire

import (
	"errors"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// DialOptions returns the gRPC dial options [Dial] would use for addr and
// opts — transport security from [WithTransportCredentials], [WithTLS] or
// [WithTLSFiles], else TASKWIRE_TLS_CA / TASKWIRE_TLS (+ _CERT, _KEY); the
// bearer token from [WithToken], else TASKWIRE_TOKEN (over plaintext only to
// a loopback address unless [WithInsecureToken]); the user agent; then
// [WithDialOptions] — for connections made outside this package, such as
// the worker package's WorkerService stream. addr is resolved as by
// [ResolveAddress].
func DialOptions(addr string, opts ...ClientOption) ([]grpc.DialOption, error) {
	cfg := newClientConfig(opts)
	return cfg.dialOptions(ResolveAddress(addr))
}

// dialOptions resolves transport security and the bearer token (filling in
// cfg's token from TASKWIRE_TOKEN when none was given) into dial options.
func (cfg *clientConfig) dialOptions(addr string) ([]grpc.DialOption, error) {
	creds := cfg.creds
	if creds == nil {
		files := cfg.tlsFiles
		if files == nil {
			files = tlsFromEnv()
		}
		if files != nil {
			c, err := files.credentials()
			if err != nil {
				return nil, err
			}
			creds = c
		}
	}
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	if !cfg.tokenSet {
		// TASKWIRE_TOKEN, like the TS and Python clients. Over plaintext it is
		// sent only to a loopback address (it cannot leave the host).
		if env := os.Getenv(TokenEnv); env != "" {
			cfg.token, cfg.tokenSet = env, true
			if creds.Info().SecurityProtocol == "insecure" && isLoopback(addr) {
				cfg.insecureToken = true
			}
		}
	}
	dialOpts := []grpc.DialOption{grpc.WithTransportCredentials(creds), grpc.WithUserAgent("taskwire-go/" + Version)}
	if cfg.tokenSet && cfg.token != "" {
		if creds.Info().SecurityProtocol == "insecure" && !cfg.insecureToken {
			return nil, errors.New("taskwire: WithToken needs WithTransportCredentials or WithTLS (or WithInsecureToken for local development)")
		}
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(bearerToken{token: cfg.token, requireTLS: !cfg.insecureToken}))
	}
	return append(dialOpts, cfg.dialOpts...), nil
}
