package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain text", "controller ready; config sha256:4fc1d020f67c", "controller ready; config sha256:4fc1d020f67c"},
		{"empty", "", ""},
		{"blob URL without credentials", "file:///tmp/blobs?create_dir=1&no_tmp_dir=1", "file:///tmp/blobs?create_dir=1&no_tmp_dir=1"},
		{"s3 URL with keys", "s3://bucket/prefix?region=eu-west-1&access_key=AKIAIOSFODNN7EXAMPLE&secret_key=wJalrXUtnFEMI",
			"s3://bucket/prefix?region=eu-west-1&access_key=xxxxx&secret_key=xxxxx"},
		{"s3 URL with a session token", "s3://b?awssdk=v2&aws_session_token=FwoGZXIvYXdzE", "s3://b?awssdk=v2&aws_session_token=xxxxx"},
		{"presigned URL", "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F2024&X-Amz-Signature=abc123&X-Amz-Expires=60",
			"https://b.s3.amazonaws.com/k?X-Amz-Credential=xxxxx&X-Amz-Signature=xxxxx&X-Amz-Expires=60"},
		{"Azure SAS", "azblob://c?sv=2022-11-02&sig=Zm9vYmFy%3D&se=2030", "azblob://c?sv=2022-11-02&sig=xxxxx&se=2030"},
		{"escaped credential key", "gs://b?access%5Fkey=x", "gs://b?access%5Fkey=xxxxx"},
		{"URL userinfo", "https://user:pass@host:8443/path?q=1#frag", "https://user:xxxxx@host:8443/path?q=1#frag"},
		{"URL user only", "https://user@host/x", "https://user@host/x"},
		{"at sign in the password", "postgres://admin:p@ss@db.internal:5432/events?sslmode=require", "postgres://admin:xxxxx@db.internal:5432/events?sslmode=require"},
		{"DSN password parameter", "postgres://db/events?user=u&password=hunter2", "postgres://db/events?user=u&password=xxxxx"},
		{"keyword DSN", "host=db port=5432 user=benchctl password=hunter2 dbname=events", "host=db port=5432 user=benchctl password=xxxxx dbname=events"},
		{"quoted keyword DSN", "host=db password='two words' dbname=x", "host=db password='xxxxx' dbname=x"},
		{"sqlite DSN", "sqlite:///var/lib/benchadmin/events.db", "sqlite:///var/lib/benchadmin/events.db"},
		{"URL in a sentence", `helm: values "config.blobstore.url=s3://b?secret_key=abc" do not validate`, `helm: values "config.blobstore.url=s3://b?secret_key=xxxxx" do not validate`},
		{"two URLs", "a https://u:p@h1 and https://v:q@h2/x", "a https://u:xxxxx@h1 and https://v:xxxxx@h2/x"},
		{"bearer token", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc", "Authorization: Bearer xxxxx"},
		{"bearer on its own", "curl -H 'x' bearer abcdefgh12345678", "curl -H 'x' bearer xxxxx"},
		{"basic credential", "Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic xxxxx"},
		{"token scheme", "Authorization: token ghp_abc", "Authorization: token xxxxx"},
		{"prose about auth", "basic setup failed: authorization denied", "basic setup failed: authorization denied"},
		{"YAML line", "events:\n  admin:\n    password: hunter2 # temporary\n", "events:\n  admin:\n    password: xxxxx # temporary\n"},
		{"JSON field", `{"apiToken": "abc", "workers": 8}`, `{"apiToken": "xxxxx", "workers": 8}`},
		{"suffix words", "db_password=a secretKey=b client-secret=c", "db_password=xxxxx secretKey=xxxxx client-secret=xxxxx"},
		{"not credential keys", "maxTokens=5 tokenBucket=3 secretName=s design=x", "maxTokens=5 tokenBucket=3 secretName=s design=x"},
		{"GitHub token", "git clone https://ghp_0123456789abcdefghijklmnopqrstuvwxyzAB@github.com/o/r", "git clone https://xxxxx@github.com/o/r"},
		{"AWS access key ID", "using AKIAIOSFODNN7EXAMPLE for eks", "using xxxxx for eks"},
		{"JWT", "token eyJhbGciOiJSUzI1NiIs.eyJzdWIiOiIxMjM0NTY3.SflKxwRJSMeKKF2QT4", "token xxxxx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := String(tt.in)
			if got != tt.want {
				t.Errorf("String(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := String(got); again != got {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestCredentialKey(t *testing.T) {
	for key, want := range map[string]bool{
		"password": true, "Password": true, "db_password": true, "dsnPassword": true, "secret": true, "clientSecret": true,
		"token": true, "access_token": true, "apiKey": true, "api-key": true, "access_key": true, "AccessKey": true,
		"secret_key": true, "privateKey": true, "credentials": true, "X-Amz-Signature": true, "sig": true,
		"dsn": false, "url": false, "workers": false, "maxTokens": false, "secretName": false, "key": false, "": false,
		"config": false, "tokenBucket": false,
	} {
		if got := CredentialKey(key); got != want {
			t.Errorf("CredentialKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestValues(t *testing.T) {
	in := map[string]any{
		"admin": map[string]any{
			"database": map[string]any{"dsn": "postgres://u:pw@db:5432/x?sslmode=disable", "password": "pw"},
			"port":     8089,
		},
		"config": map[string]any{
			"blobstore": map[string]any{"url": "s3://b?access_key=AK&secret_key=SK", "cacheSizeBytes": 0},
			"workers":   8,
			"taskPod":   map[string]any{"tolerations": []any{map[string]any{"key": "k", "value": "Bearer abcdefghijkl"}}},
			"token":     "",
			"secret":    map[string]any{"name": "n"},
		},
	}
	want := map[string]any{
		"admin": map[string]any{
			"database": map[string]any{"dsn": "postgres://u:xxxxx@db:5432/x?sslmode=disable", "password": "xxxxx"},
			"port":     8089,
		},
		"config": map[string]any{
			"blobstore": map[string]any{"url": "s3://b?access_key=xxxxx&secret_key=xxxxx", "cacheSizeBytes": 0},
			"workers":   8,
			"taskPod":   map[string]any{"tolerations": []any{map[string]any{"key": "k", "value": "Bearer xxxxx"}}},
			"token":     "",
			"secret":    map[string]any{"name": "n"},
		},
	}
	got := Values(in)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Values\n got %#v\nwant %#v", got, want)
	}
	// A copy: the input is unchanged.
	if in["admin"].(map[string]any)["database"].(map[string]any)["password"] != "pw" {
		t.Error("Values changed its input")
	}
	if Values(nil) != nil {
		t.Error("Values(nil) is not nil")
	}
}

func TestStrings(t *testing.T) {
	got := Strings(map[string]string{"server": "https://admin:pw@10.0.0.1:6443", "token": "abc", "nodes": "3"})
	want := map[string]string{"server": "https://admin:xxxxx@10.0.0.1:6443", "token": "xxxxx", "nodes": "3"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Strings = %v, want %v", got, want)
	}
	if Strings(nil) != nil {
		t.Error("Strings(nil) is not nil")
	}
}

func TestReplaceAttr(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: ReplaceAttr}))
	log.Info("connecting to postgres://u:pw@db/x",
		"url", "s3://b?secret_key=SK",
		"password", "hunter2",
		"err", errors.New("dial https://a:b@h: refused"),
		"values", map[string]any{"token": "t"},
		"command", []string{"eksctl", "--token=abc"},
		slog.Group("g", "dsn", "host=db password=pw"),
		"workers", 8,
	)
	out := buf.String()
	for _, secret := range []string{"pw@", "SK", "hunter2", "a:b@", "token:t", "abc", "password=pw"} {
		if strings.Contains(out, secret) {
			t.Errorf("log line holds %q: %s", secret, out)
		}
	}
	for _, kept := range []string{"postgres://u:xxxxx@db/x", "secret_key=xxxxx", "password=xxxxx", "https://a:xxxxx@h", "workers=8", "g.dsn="} {
		if !strings.Contains(out, kept) {
			t.Errorf("log line lacks %q: %s", kept, out)
		}
	}
}
