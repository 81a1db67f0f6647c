package flyteengine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/portfolio/flyte"
)

// fakeFlytectl puts a flytectl on PATH that records its arguments and
// exits with code.
func fakeFlytectl(t *testing.T, code string) (string, string) {
	t.Helper()
	bin := t.TempDir()
	args := filepath.Join(t.TempDir(), "args")
	script := "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > " + args + "\necho 'registered 3 entities'\nexit " + code + "\n"
	if err := os.WriteFile(filepath.Join(bin, "flytectl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	return filepath.Join(bin, "flytectl"), args
}

func pkgDir(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRegistration: flytectl gets the package's files (or its archive),
// the project, domain and version, Admin's host and port, plain text for
// http, and the auth benchctl uses.
func TestRegistration(t *testing.T) {
	tests := []struct {
		name     string
		files    []string
		endpoint string
		auth     flyte.AuthConfig
		want     []string // in order, after the files
		wantErr  string
	}{
		{"protobufs over plain http", []string{"1_t.pb", "2_wf.pb", ".hidden"}, "http://127.0.0.1:30080", flyte.AuthConfig{},
			[]string{"--project", "flytesnacks", "--domain", "development", "--version", "v3", "--admin.endpoint", "dns:///127.0.0.1:30080", "--admin.insecure"}, ""},
		{"an archive over https with client credentials", []string{"pkg.tgz"}, "https://flyte.example.com", flyte.AuthConfig{Mode: flyte.AuthClientCredentials, ClientID: "bench", ClientSecretFile: "/s"},
			[]string{"--archive", "--project", "flytesnacks", "--domain", "development", "--version", "v3", "--admin.endpoint", "dns:///flyte.example.com:443",
				"--admin.authType", "ClientSecret", "--admin.clientId", "bench", "--admin.clientSecretLocation", "/s"}, ""},
		{"a token file", []string{"a.pb"}, "https://flyte.example.com:8443", flyte.AuthConfig{Mode: flyte.AuthTokenFile, TokenFile: "/t"},
			[]string{"--admin.endpoint", "dns:///flyte.example.com:8443", "--admin.authType", "ExternalCommand", "--admin.command", "cat,/t"}, ""},
		{"nothing to register", nil, "http://127.0.0.1:1", flyte.AuthConfig{}, nil, "holds no files"},
		{"an archive among files", []string{"a.pb", "b.tar"}, "http://127.0.0.1:1", flyte.AuthConfig{}, nil, "an archive must be the directory's only file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := pkgDir(t, tt.files...)
			r := Registration{Flytectl: "flytectl", Dir: dir, Endpoint: tt.endpoint, Project: "flytesnacks", Domain: "development", Version: "v3", Auth: tt.auth}
			args, err := r.Args()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var files []string
			for _, f := range tt.files {
				if !strings.HasPrefix(f, ".") {
					files = append(files, filepath.Join(dir, f))
				}
			}
			want := slices.Concat([]string{"register", "files"}, files)
			if !slices.Equal(args[:len(want)], want) {
				t.Errorf("args %q, want them to start %q", args, want)
			}
			rest := strings.Join(args[len(want):], " ")
			if !strings.Contains(rest, strings.Join(tt.want, " ")) {
				t.Errorf("args %q lack %q", rest, strings.Join(tt.want, " "))
			}
		})
	}
}

// TestRegistrationRunsFlytectl runs the command line (a fake flytectl)
// and names flytectl and its last words when it fails.
func TestRegistrationRunsFlytectl(t *testing.T) {
	for _, code := range []string{"0", "1"} {
		t.Run("exit "+code, func(t *testing.T) {
			bin, argsFile := fakeFlytectl(t, code)
			found, err := LookFlytectl()
			if err != nil || found != bin {
				t.Fatalf("LookFlytectl = %q, %v", found, err)
			}
			r := Registration{Flytectl: found, Dir: pkgDir(t, "wf.pb"), Endpoint: "http://127.0.0.1:30080", Project: "p", Domain: "d", Version: "v1"}
			var out bytes.Buffer
			err = r.Run(context.Background(), &out)
			got, _ := os.ReadFile(argsFile)
			if !strings.HasPrefix(string(got), "register\nfiles\n") || !strings.Contains(out.String(), "registered 3 entities") {
				t.Errorf("flytectl ran with %q and printed %q", got, out.String())
			}
			if (code == "0") != (err == nil) {
				t.Fatalf("err = %v", err)
			}
			if err != nil && (!strings.Contains(err.Error(), "flytectl register files") || !strings.Contains(err.Error(), "registered 3 entities")) {
				t.Errorf("err = %v", err)
			}
		})
	}
	t.Run("not on PATH", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		if _, err := LookFlytectl(); err == nil || !strings.Contains(err.Error(), "--register needs flytectl on PATH") {
			t.Errorf("err = %v", err)
		}
	})
}
