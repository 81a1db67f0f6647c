package flyteengine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/benchctl/benchctl/portfolio/flyte"
)

// Registration registers a package of workflows before a run, as the
// seed RFC planned: through flytectl ('flytectl register files'), which
// benchctl cannot import. Dir holds the serialized protobuf files pyflyte
// writes ('pyflyte package' or 'pyflyte register --non-fast'), or one
// .tgz/.tar.gz/.tar archive of them.
type Registration struct {
	// Flytectl is the flytectl executable (LookFlytectl finds it).
	Flytectl string
	Dir      string
	// Endpoint is Admin's URL as benchctl uses it (flytectl takes
	// host:port and whether it is plain text).
	Endpoint                 string
	Project, Domain, Version string
	Auth                     flyte.AuthConfig
}

// LookFlytectl finds flytectl on PATH.
func LookFlytectl() (string, error) {
	p, err := exec.LookPath("flytectl")
	if err != nil {
		return "", fmt.Errorf("--register needs flytectl on PATH to register the workflows (https://docs.flyte.org/en/latest/flytectl/overview.html): %w", err)
	}
	return p, nil
}

// archiveSuffixes mark a registration package flytectl reads with --archive.
var archiveSuffixes = []string{".tgz", ".tar.gz", ".tar"}

// Args is flytectl's command line for the registration.
func (r Registration) Args() ([]string, error) {
	entries, err := os.ReadDir(r.Dir)
	if err != nil {
		return nil, fmt.Errorf("--register %s: %w", r.Dir, err)
	}
	var files []string
	archive := false
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		files = append(files, filepath.Join(r.Dir, e.Name()))
		if slices.ContainsFunc(archiveSuffixes, func(s string) bool { return strings.HasSuffix(e.Name(), s) }) {
			archive = true
		}
	}
	switch {
	case len(files) == 0:
		return nil, fmt.Errorf("--register %s: the directory holds no files to register", r.Dir)
	case archive && len(files) > 1:
		return nil, fmt.Errorf("--register %s: an archive must be the directory's only file (it holds %d)", r.Dir, len(files))
	}
	u, err := url.Parse(r.Endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("flyte admin endpoint %q: want an http(s) URL with a host", r.Endpoint)
	}
	host := u.Host
	if u.Port() == "" {
		host += map[string]string{"http": ":80", "https": ":443"}[u.Scheme]
	}
	args := append([]string{"register", "files"}, files...)
	if archive {
		args = append(args, "--archive")
	}
	args = append(args, "--project", r.Project, "--domain", r.Domain, "--version", r.Version, "--admin.endpoint", "dns:///"+host)
	if u.Scheme == "http" {
		args = append(args, "--admin.insecure")
	}
	switch a := r.Auth; a.Mode {
	case flyte.AuthTokenFile:
		// flytectl takes a token from a command's output.
		args = append(args, "--admin.authType", "ExternalCommand", "--admin.command", "cat,"+a.TokenFile)
	case flyte.AuthClientCredentials:
		args = append(args, "--admin.authType", "ClientSecret", "--admin.clientId", a.ClientID)
		if a.ClientSecretFile != "" {
			args = append(args, "--admin.clientSecretLocation", a.ClientSecretFile)
		} else {
			args = append(args, "--admin.clientSecretEnvVar", a.ClientSecretEnv)
		}
		if a.TokenURL != "" {
			args = append(args, "--admin.tokenUrl", a.TokenURL)
		}
	}
	return args, nil
}

// Run registers the package; flytectl's output goes to out. A failure
// names flytectl and ends with the last lines it printed.
func (r Registration) Run(ctx context.Context, out io.Writer) error {
	args, err := r.Args()
	if err != nil {
		return err
	}
	var tail bytes.Buffer
	cmd := exec.CommandContext(ctx, r.Flytectl, args...)
	cmd.Stdout = io.MultiWriter(out, &tail)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		last := strings.TrimSpace(tail.String())
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = strings.TrimSpace(last[i+1:])
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) && last != "" {
			return fmt.Errorf("flytectl register files %s: %w: %s", r.Dir, err, last)
		}
		return fmt.Errorf("flytectl register files %s: %w", r.Dir, err)
	}
	return nil
}
