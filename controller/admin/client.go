package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls a benchadmin service.
type Client struct {
	// BaseURL is the service's address, e.g. http://127.0.0.1:8089.
	BaseURL string
	// HTTP nil means a shared client with a 5 s timeout and keep-alive.
	HTTP *http.Client
}

// defaultHTTP keeps connections alive across events: a new TCP handshake
// per event would be measured as event cost that FlyteAdmin's gRPC
// channel does not have.
var defaultHTTP = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
	return &http.Client{Timeout: 5 * time.Second, Transport: t}
}()

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// Record sends e, once: retrying is the caller's policy. A refusal (409
// AlreadyExists, 412 IncompatiblePhase, another 4xx) is an *Error that
// errors.Is matches against the sentinels; a 5xx or a network error is a
// plain error, worth a retry.
func (c *Client) Record(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("benchadmin: encode event: %w", err)
	}
	return c.do(ctx, http.MethodPost, PathEvents, body, http.StatusCreated, nil)
}

// Events returns an execution's events in persisted order.
func (c *Client) Events(ctx context.Context, execution string) ([]Persisted, error) {
	var out struct {
		Events []Persisted `json:"events"`
	}
	if err := c.do(ctx, http.MethodGet, PathExecutions+url.PathEscape(execution)+"/events", nil, http.StatusOK, &out); err != nil {
		return nil, err
	}
	return out.Events, nil
}

// Metrics returns an execution's span tree; ErrNotFound without events.
func (c *Client) Metrics(ctx context.Context, execution string) (*Span, error) {
	var out Span
	if err := c.do(ctx, http.MethodGet, PathExecutions+url.PathEscape(execution)+"/metrics", nil, http.StatusOK, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Version returns the service's version and database kind.
func (c *Client) Version(ctx context.Context) (VersionInfo, error) {
	var out VersionInfo
	err := c.do(ctx, http.MethodGet, PathVersion, nil, http.StatusOK, &out)
	return out, err
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	u := strings.TrimRight(c.BaseURL, "/") + path
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return fmt.Errorf("benchadmin: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("benchadmin: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	io.Copy(io.Discard, resp.Body) // drain, so the connection is reused
	if err != nil {
		return fmt.Errorf("benchadmin: %s %s: read response: %w", method, u, err)
	}
	switch {
	case resp.StatusCode == want:
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("benchadmin: %s %s: decode response: %w", method, u, err)
		}
		return nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		e := &Error{Status: resp.StatusCode}
		if err := json.Unmarshal(b, e); err != nil || e.Code == "" {
			// Not our error body (a proxy's, or ServeMux's 404/405).
			e.Code, e.Message = codeForStatus(resp.StatusCode), strings.TrimSpace(string(b))
		}
		return e
	default:
		return fmt.Errorf("benchadmin: %s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(b)))
	}
}

// codeForStatus maps a 4xx without an error body to a code.
func codeForStatus(status int) string {
	switch status {
	case http.StatusConflict:
		return CodeAlreadyExists
	case http.StatusPreconditionFailed:
		return CodeIncompatiblePhase
	case http.StatusNotFound:
		return CodeNotFound
	default:
		return CodeInvalidArgument
	}
}
