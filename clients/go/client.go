package taskwire

import (
	"context"
	"crypto/tls"
	"errors"
	"os"

	taskwirev1 "github.com/taskwire/taskwire/clients/go/gen/taskwire/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
)

// Client is a connection to a taskwire broker. It is safe for concurrent
// use; create one per process and Close it when done.
type Client struct {
	conn       *grpc.ClientConn // nil when built by NewClient from a caller's conn
	api        taskwirev1.TaskServiceClient
	addr       string
	close      func() error
	retry      CallRetry // normalized
	requestIDs bool      // Submit makes a request id when it has no idempotency key
}

// ClientOption configures [Dial] (and, for the retry and request-id
// options, [NewClient]).
type ClientOption func(*clientConfig)

type clientConfig struct {
	creds         credentials.TransportCredentials
	token         string
	tokenSet      bool
	insecureToken bool
	block         bool
	dialOpts      []grpc.DialOption
	retry         CallRetry // normalized
	noRequestIDs  bool
	tlsFiles      *tlsFiles
}

func newClientConfig(opts []ClientOption) clientConfig {
	cfg := clientConfig{retry: DefaultCallRetry.normalized()}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return cfg
}

func (cfg *clientConfig) client(api taskwirev1.TaskServiceClient, addr string, closeFn func() error) *Client {
	return &Client{api: api, addr: addr, close: closeFn, retry: cfg.retry, requestIDs: !cfg.noRequestIDs}
}

// WithTransportCredentials sets the transport security, e.g.
// credentials.NewTLS(cfg). Default: plaintext (insecure) — fine for a local
// broker, not across a network.
func WithTransportCredentials(creds credentials.TransportCredentials) ClientOption {
	return func(c *clientConfig) { c.creds = creds }
}

// WithTLS is WithTransportCredentials(credentials.NewTLS(cfg)). A nil cfg
// uses the system roots and the address's host name.
func WithTLS(cfg *tls.Config) ClientOption {
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return WithTransportCredentials(credentials.NewTLS(cfg))
}

// WithToken sends "authorization: Bearer <token>" metadata with every call
// (gRPC per-RPC credentials). Because a bearer token must not travel in
// clear text, Dial fails when WithToken is used without
// [WithTransportCredentials] / [WithTLS], unless [WithInsecureToken] is
// also given. An empty token sends nothing.
func WithToken(token string) ClientOption {
	return func(c *clientConfig) { c.token, c.tokenSet = token, true }
}

// WithInsecureToken allows [WithToken] over a plaintext connection (for
// local development and tests only).
func WithInsecureToken() ClientOption {
	return func(c *clientConfig) { c.insecureToken = true }
}

// WithBlock makes [Dial] connect at once and wait, bounded by its context,
// until the connection is ready. Default: Dial returns at once and the
// connection is made by the first call (and re-made when it drops).
func WithBlock() ClientOption {
	return func(c *clientConfig) { c.block = true }
}

// WithDialOptions appends raw gRPC dial options (interceptors, keepalive,
// message size limits, ...). They are applied after the client's own.
func WithDialOptions(opts ...grpc.DialOption) ClientOption {
	return func(c *clientConfig) { c.dialOpts = append(c.dialOpts, opts...) }
}

// ResolveAddress returns addr, or when it is empty the TASKWIRE_ADDRESS
// environment variable, or when that is empty too [DefaultAddress]
// ("localhost:50051").
func ResolveAddress(addr string) string {
	if addr != "" {
		return addr
	}
	if env := os.Getenv(AddressEnv); env != "" {
		return env
	}
	return DefaultAddress
}

// Dial creates a client for the broker at addr ("host:port" or any gRPC
// target). An empty addr means TASKWIRE_ADDRESS, or "localhost:50051" when
// that is unset. Without [WithBlock], Dial does not wait for the connection
// (ctx is then only checked for cancellation); with it, ctx bounds the wait.
// Close the client when done.
func Dial(ctx context.Context, addr string, opts ...ClientOption) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxError(ctx)
	}
	cfg := newClientConfig(opts)
	addr = ResolveAddress(addr)
	dialOpts, err := cfg.dialOptions(addr)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(addr, dialOpts...)
	if err != nil {
		return nil, err
	}
	if cfg.block {
		if err := waitReady(ctx, conn); err != nil {
			conn.Close()
			return nil, err
		}
	}
	c := cfg.client(taskwirev1.NewTaskServiceClient(conn), addr, conn.Close)
	c.conn = conn
	return c, nil
}

func waitReady(ctx context.Context, conn *grpc.ClientConn) error {
	conn.Connect()
	for {
		s := conn.GetState()
		if s == connectivity.Ready {
			return nil
		}
		if s == connectivity.Shutdown {
			return errors.New("taskwire: connection shut down")
		}
		if !conn.WaitForStateChange(ctx, s) {
			return ctxError(ctx)
		}
	}
}

// NewClient wraps an existing gRPC connection (for example one shared with
// other services, or an in-process bufconn in tests). Close does not close
// cc; its owner does. Of the options, only [WithCallRetry],
// [WithoutCallRetry] and [WithRequestIDs] apply (the others configure the
// connection, which is the caller's).
func NewClient(cc grpc.ClientConnInterface, opts ...ClientOption) *Client {
	cfg := newClientConfig(opts)
	return cfg.client(taskwirev1.NewTaskServiceClient(cc), "", func() error { return nil })
}

// Close closes the connection made by [Dial]. Calls in flight fail with
// codes.Canceled. It is a no-op for a client made by [NewClient].
func (c *Client) Close() error { return c.close() }

// Address returns the resolved broker address the client dialled (empty
// for a client made by [NewClient]).
func (c *Client) Address() string { return c.addr }

// Raw returns the generated gRPC client, for calls or fields this package
// does not cover.
func (c *Client) Raw() taskwirev1.TaskServiceClient { return c.api }

// bearerToken is the per-RPC credential of WithToken.
type bearerToken struct {
	token      string
	requireTLS bool
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: true
// unless WithInsecureToken was given.
func (b bearerToken) RequireTransportSecurity() bool { return b.requireTLS }
