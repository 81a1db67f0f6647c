package flyte

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func writeSecret(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask may have narrowed it
		t.Fatal(err)
	}
	return p
}

// TestTokenFile: the token goes into the header; a file others can read
// is refused unless allowed; a rotated file is read again.
func TestTokenFile(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		mode    os.FileMode
		loose   bool
		wantErr string
	}{
		{"0600", "tok-1\n", 0o600, false, ""},
		{"a Bearer prefix is dropped", "Bearer tok-1", 0o600, false, ""},
		{"0644 refused", "tok-1", 0o644, false, "has mode 0644"},
		{"0644 allowed for a mounted secret", "tok-1", 0o644, true, ""},
		{"empty", "\n", 0o600, false, "is empty"},
		{"two tokens", "tok-1 tok-2", 0o600, false, "contains whitespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen atomic.Value
			s := fakeAdmin(t, map[string]http.HandlerFunc{
				"/api/v1/version": func(w http.ResponseWriter, r *http.Request) {
					seen.Store(r.Header.Get("Authorization"))
					io.WriteString(w, `{"control_plane_version":{"Version":"v1.16.0"}}`)
				},
			})
			p := writeSecret(t, tt.body, tt.mode)
			c, err := NewClient(context.Background(), Options{Endpoint: s.URL, Logger: slog.New(slog.DiscardHandler),
				Auth: AuthConfig{Mode: AuthTokenFile, TokenFile: p, AllowLooseFilePermissions: tt.loose}})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v, err := c.GetVersion(context.Background())
			if err != nil || v.Version != "v1.16.0" || seen.Load() != "Bearer tok-1" {
				t.Fatalf("version %+v, err %v, header %v", v, err, seen.Load())
			}
			// Rotation: a new token (of another size) is read again.
			if err := os.WriteFile(p, []byte("tok-rotated"), tt.mode); err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetVersion(context.Background()); err != nil || seen.Load() != "Bearer tok-rotated" {
				t.Fatalf("after rotation: err %v, header %v", err, seen.Load())
			}
			if strings.Contains(c.String(), "tok-") {
				t.Errorf("String() shows the token: %s", c)
			}
		})
	}
}

// TestClientCredentials: the token endpoint, scopes, audience and header
// come from Admin's discovery endpoints, as flytectl takes them; a refused
// secret fails NewClient without echoing it.
func TestClientCredentials(t *testing.T) {
	const secret = "s3cr3t-value"
	tests := []struct {
		name       string
		wantSecret string
		wantErr    string
	}{
		{"accepted", secret, ""},
		{"refused", "another", "HTTP 401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tokenForm, header atomic.Value
			var tokens atomic.Int32
			s := fakeAdmin(t, map[string]http.HandlerFunc{
				"GET /.well-known/oauth-authorization-server": func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("Authorization") != "" {
						t.Error("discovery sent a credential")
					}
					io.WriteString(w, `{"issuer":"x","token_endpoint":"/oauth2/token"}`)
				},
				"GET /config/v1/flyte_client": func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, `{"client_id":"flytectl","scopes":["all"],"authorization_metadata_key":"flyte-authorization","audience":"https://aud"}`)
				},
				"POST /oauth2/token": func(w http.ResponseWriter, r *http.Request) {
					tokens.Add(1)
					_ = r.ParseForm()
					tokenForm.Store(r.Form.Encode())
					id, pw, _ := r.BasicAuth()
					if id != "bench" || pw != tt.wantSecret {
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(http.StatusUnauthorized)
						io.WriteString(w, `{"error":"invalid_client"}`)
						return
					}
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, `{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`)
				},
				"GET /api/v1/version": func(w http.ResponseWriter, r *http.Request) {
					header.Store(r.Header.Get("flyte-authorization"))
					io.WriteString(w, `{}`)
				},
			})
			t.Setenv("BENCH_FLYTE_SECRET", secret)
			c, err := NewClient(context.Background(), Options{Endpoint: s.URL, RequestTimeout: 5 * time.Second,
				Auth: AuthConfig{Mode: AuthClientCredentials, ClientID: "bench", ClientSecretEnv: "BENCH_FLYTE_SECRET"}})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), secret) {
					t.Fatalf("err = %v, want %q without the secret", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if form, _ := tokenForm.Load().(string); !strings.Contains(form, "audience=https") || !strings.Contains(form, "scope=all") || !strings.Contains(form, "grant_type=client_credentials") {
				t.Errorf("token request form %q", form)
			}
			for range 2 {
				if _, err := c.GetVersion(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if header.Load() != "Bearer at-1" || tokens.Load() != 1 {
				t.Errorf("header %v after %d token requests; want the advertised header and one reused token", header.Load(), tokens.Load())
			}
			if strings.Contains(c.String(), secret) || strings.Contains(c.String(), "at-1") {
				t.Errorf("String() shows a credential: %s", c)
			}
		})
	}
}

// TestValidateOptions: what can be checked without the network is, so
// that a run tells bad input (a loose or missing secret, an unset
// variable) from an Admin that cannot be reached.
func TestValidateOptions(t *testing.T) {
	private := writeSecret(t, "t0k3n", 0o600)
	loose := writeSecret(t, "t0k3n", 0o640)
	t.Setenv("BENCH_FLYTE_EMPTY", "")
	tests := []struct {
		name    string
		o       Options
		wantErr string
	}{
		{"no auth", Options{Endpoint: "http://127.0.0.1:1"}, ""},
		{"a private token file", Options{Endpoint: "https://f.example", Auth: AuthConfig{Mode: AuthTokenFile, TokenFile: private}}, ""},
		{"a loose token file", Options{Endpoint: "https://f.example", Auth: AuthConfig{Mode: AuthTokenFile, TokenFile: loose}}, "has mode 0640"},
		{"a missing secret file", Options{Endpoint: "https://f.example", Auth: AuthConfig{Mode: AuthClientCredentials, ClientID: "b", ClientSecretFile: loose + ".none"}}, "auth.clientSecretFile"},
		{"an empty secret variable", Options{Endpoint: "https://f.example", Auth: AuthConfig{Mode: AuthClientCredentials, ClientID: "b", ClientSecretEnv: "BENCH_FLYTE_EMPTY"}}, "BENCH_FLYTE_EMPTY is empty or unset"},
		{"not a URL", Options{Endpoint: "f.example"}, "want an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateOptions(context.Background(), tt.o)
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
