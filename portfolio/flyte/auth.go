package flyte

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// AuthMode selects how the client authenticates to Admin.
type AuthMode string

const (
	// AuthNone sends no credential (a sandbox, or auth at a proxy).
	AuthNone AuthMode = "none"
	// AuthTokenFile sends a bearer token read from a file, re-read when
	// the file changes (projected service-account tokens rotate).
	AuthTokenFile AuthMode = "token-file"
	// AuthClientCredentials runs the OAuth2 client-credentials grant
	// against the token endpoint Admin advertises, as flytectl's
	// ClientSecret flow does.
	AuthClientCredentials AuthMode = "client-credentials"
)

// AuthConfig configures authentication. It holds paths and names, never a
// secret, so it may be recorded.
type AuthConfig struct {
	Mode AuthMode `json:"mode,omitempty" yaml:"mode,omitempty"`
	// TokenFile holds the bearer token (AuthTokenFile).
	TokenFile string `json:"tokenFile,omitempty" yaml:"tokenFile,omitempty"`
	// ClientID is the OAuth2 client (AuthClientCredentials).
	ClientID string `json:"clientId,omitempty" yaml:"clientId,omitempty"`
	// ClientSecretFile or ClientSecretEnv (the name of an environment
	// variable) holds the client secret; exactly one is set.
	ClientSecretFile string `json:"clientSecretFile,omitempty" yaml:"clientSecretFile,omitempty"`
	ClientSecretEnv  string `json:"clientSecretEnv,omitempty" yaml:"clientSecretEnv,omitempty"`
	// TokenURL skips discovery through /.well-known/oauth-authorization-server.
	TokenURL string `json:"tokenUrl,omitempty" yaml:"tokenUrl,omitempty"`
	// Scopes default to the ones /config/v1/flyte_client advertises.
	Scopes []string `json:"scopes,omitempty" yaml:"scopes,omitempty"`
	// Audience is sent as the audience parameter when set; when empty the
	// one /config/v1/flyte_client advertises is used.
	Audience string `json:"audience,omitempty" yaml:"audience,omitempty"`
	// Header carries the credential: default the authorization_metadata_key
	// Admin advertises, else Authorization.
	Header string `json:"header,omitempty" yaml:"header,omitempty"`
	// AllowLooseFilePermissions turns the refusal of a token or secret
	// file that group or others can read into a warning. Kubernetes
	// mounts projected tokens 0644, which is safe inside a pod.
	AllowLooseFilePermissions bool `json:"allowLooseFilePermissions,omitempty" yaml:"allowLooseFilePermissions,omitempty"`
}

func (a AuthConfig) mode() AuthMode {
	if a.Mode == "" {
		return AuthNone
	}
	return a.Mode
}

// Validate checks the settings a mode needs, naming the field.
func (a AuthConfig) Validate() error {
	switch a.mode() {
	case AuthNone:
		return nil
	case AuthTokenFile:
		if a.TokenFile == "" {
			return errors.New("auth.tokenFile: required for mode token-file")
		}
		return nil
	case AuthClientCredentials:
		var errs []error
		if a.ClientID == "" {
			errs = append(errs, errors.New("auth.clientId: required for mode client-credentials"))
		}
		switch {
		case a.ClientSecretFile == "" && a.ClientSecretEnv == "":
			errs = append(errs, errors.New("auth.clientSecretFile or auth.clientSecretEnv: one is required for mode client-credentials"))
		case a.ClientSecretFile != "" && a.ClientSecretEnv != "":
			errs = append(errs, errors.New("auth.clientSecretFile and auth.clientSecretEnv: set only one"))
		}
		return errors.Join(errs...)
	}
	return fmt.Errorf("auth.mode: %q is not one of none, token-file, client-credentials", a.Mode)
}

func newAuthorizer(ctx context.Context, c *Client, a AuthConfig) (authorizer, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	switch a.mode() {
	case AuthTokenFile:
		t := &tokenFile{path: a.TokenFile, header: a.Header, loose: a.AllowLooseFilePermissions, log: c.log}
		if t.header == "" {
			t.header = "Authorization"
		}
		// Read it now, so that a missing or exposed file fails before
		// anything runs.
		if _, err := t.token(ctx); err != nil {
			return nil, err
		}
		return t, nil
	case AuthClientCredentials:
		return newClientCredentials(ctx, c, a)
	}
	return noAuth{}, nil
}

type noAuth struct{}

func (noAuth) authorize(context.Context, http.Header) error { return nil }
func (noAuth) String() string                               { return "none" }

// readSecretFile reads a token or secret, refusing (or, if loose, warning
// about) a file that group or others may read: anyone on the host could
// then act as the benchmark.
func readSecretFile(ctx context.Context, path, what string, loose bool, log *slog.Logger) ([]byte, os.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		if !loose {
			return nil, nil, fmt.Errorf("%s %s has mode %04o: group or others can read it; chmod 600 it (or set auth.allowLooseFilePermissions for a mounted secret)", what, path, perm)
		}
		log.WarnContext(ctx, "flyte credential file is readable by group or others", "what", what, "path", path, "mode", fmt.Sprintf("%04o", perm))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("%s %s is empty", what, path)
	}
	return data, fi, nil
}

// tokenFile is a bearer token from a file, cached until the file's size or
// modification time changes.
type tokenFile struct {
	path   string
	header string
	loose  bool
	log    *slog.Logger

	mu      sync.Mutex
	cached  string
	modTime time.Time
	size    int64
}

func (t *tokenFile) token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fi, err := os.Stat(t.path); err == nil && t.cached != "" && fi.ModTime().Equal(t.modTime) && fi.Size() == t.size {
		return t.cached, nil
	}
	data, fi, err := readSecretFile(ctx, t.path, "auth.tokenFile", t.loose, t.log)
	if err != nil {
		return "", err
	}
	tok := strings.TrimPrefix(string(data), "Bearer ")
	if strings.ContainsAny(tok, " \r\n\t") {
		return "", fmt.Errorf("auth.tokenFile %s: the token contains whitespace; the file must hold one token", t.path)
	}
	t.cached, t.modTime, t.size = tok, fi.ModTime(), fi.Size()
	return tok, nil
}

func (t *tokenFile) authorize(ctx context.Context, h http.Header) error {
	tok, err := t.token(ctx)
	if err != nil {
		return err
	}
	h.Set(t.header, "Bearer "+tok)
	return nil
}

func (t *tokenFile) String() string { return "token-file(" + t.path + ")" }

// oauthMetadata is the part of /.well-known/oauth-authorization-server used.
type oauthMetadata struct {
	Issuer        string `json:"issuer"`
	TokenEndpoint string `json:"token_endpoint"`
}

// publicClientConfig is /config/v1/flyte_client.
type publicClientConfig struct {
	ClientID                 string   `json:"client_id"`
	Scopes                   []string `json:"scopes"`
	AuthorizationMetadataKey string   `json:"authorization_metadata_key"`
	Audience                 string   `json:"audience"`
}

// clientCredentials is the OAuth2 client-credentials grant; the token
// lives only in memory, in the oauth2 package's reusing token source.
type clientCredentials struct {
	header   string
	clientID string
	tokenURL string
	src      oauth2.TokenSource
}

func newClientCredentials(ctx context.Context, c *Client, a AuthConfig) (*clientCredentials, error) {
	var secret string
	if a.ClientSecretFile != "" {
		data, _, err := readSecretFile(ctx, a.ClientSecretFile, "auth.clientSecretFile", a.AllowLooseFilePermissions, c.log)
		if err != nil {
			return nil, err
		}
		secret = string(data)
	} else {
		secret = strings.TrimSpace(os.Getenv(a.ClientSecretEnv))
		if secret == "" {
			return nil, fmt.Errorf("auth.clientSecretEnv: environment variable %s is empty or unset", a.ClientSecretEnv)
		}
	}

	tokenURL := a.TokenURL
	if tokenURL == "" {
		var md oauthMetadata
		if err := c.do(ctx, request{method: http.MethodGet, path: "/.well-known/oauth-authorization-server", retry: true, noAuth: true}, &md); err != nil {
			return nil, fmt.Errorf("discovering the OAuth2 token endpoint (or set auth.tokenUrl): %w", err)
		}
		if md.TokenEndpoint == "" {
			return nil, errors.New("discovering the OAuth2 token endpoint: /.well-known/oauth-authorization-server names no token_endpoint; set auth.tokenUrl")
		}
		tokenURL = md.TokenEndpoint
	}
	tu, err := c.base.Parse(tokenURL) // a relative endpoint is Admin's own
	if err != nil {
		return nil, fmt.Errorf("OAuth2 token endpoint %q: %w", tokenURL, err)
	}
	if tu.Scheme != "https" && !(tu.Scheme == "http" && isLoopback(tu.Hostname())) {
		return nil, fmt.Errorf("OAuth2 token endpoint %s: refusing to send the client secret over %s; it must be https", tu.Redacted(), tu.Scheme)
	}

	// flytectl takes scopes (and the audience, and the header name) from
	// the public client config when they are not configured. An Admin
	// without the endpoint is fine: the defaults then stand.
	scopes, audience, header := a.Scopes, a.Audience, a.Header
	if len(scopes) == 0 || audience == "" || header == "" {
		var pc publicClientConfig
		err := c.do(ctx, request{method: http.MethodGet, path: "/config/v1/flyte_client", retry: true, noAuth: true}, &pc)
		switch {
		case err == nil:
			if len(scopes) == 0 {
				scopes = pc.Scopes
			}
			if audience == "" {
				audience = pc.Audience
			}
			if header == "" {
				header = pc.AuthorizationMetadataKey
			}
		default:
			c.log.WarnContext(ctx, "flyte admin: no public client config; using configured scopes and the Authorization header", "err", err)
		}
	}
	if header == "" {
		header = "Authorization"
	}
	cfg := clientcredentials.Config{ClientID: a.ClientID, ClientSecret: secret, TokenURL: tu.String(), Scopes: scopes}
	if audience != "" {
		cfg.EndpointParams = url.Values{"audience": {audience}}
	}
	// The token source outlives ctx (it refreshes later), so it gets a
	// context of its own carrying the transport, with a bounded client.
	hc := &http.Client{Transport: c.http.Transport, Timeout: c.requestTimeout}
	tctx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)
	cc := &clientCredentials{header: header, clientID: a.ClientID, tokenURL: tu.Redacted(), src: cfg.TokenSource(tctx)}
	// Fetch one now: a wrong secret fails before any execution starts.
	if err := cc.authorize(ctx, http.Header{}); err != nil {
		return nil, err
	}
	return cc, nil
}

func (cc *clientCredentials) authorize(ctx context.Context, h http.Header) error {
	tok, err := cc.src.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			// The body may echo request parameters; keep only the code.
			return fmt.Errorf("OAuth2 token request to %s for client %s: HTTP %d (%s): %w", cc.tokenURL, cc.clientID, re.Response.StatusCode, re.ErrorCode, ErrUnauthorized)
		}
		return fmt.Errorf("OAuth2 token request to %s for client %s: %w", cc.tokenURL, cc.clientID, err)
	}
	h.Set(cc.header, tok.Type()+" "+tok.AccessToken)
	return nil
}

func (cc *clientCredentials) String() string {
	return "client-credentials(client " + cc.clientID + ", token endpoint " + cc.tokenURL + ")"
}
