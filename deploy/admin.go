package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/benchctl/benchctl/controller/admin"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/local"
)

// Chart values of the admin service (see the chart's values.yaml).
const (
	valEventSink     = "config.events.sink"
	valAdminURL      = "config.events.admin.url"
	valAdminEnabled  = "admin.enabled"
	valAdminReplicas = "admin.replicaCount"
	valAdminPort     = "admin.port"
	valAdminDSN      = "admin.database.dsn"
	valAdminRepo     = "admin.image.repository"
	valAdminTag      = "admin.image.tag"
	sinkAdmin        = "admin"
	defaultAdminPort = 8089
)

// AdminDeployment is the record of a deployment's admin service: the
// database the controller's events are persisted in.
type AdminDeployment struct {
	// Endpoint is the service's base URL on this host (host processes;
	// in a cluster ConnectAdmin port-forwards to its pod).
	Endpoint string `json:"endpoint,omitempty"`
	// Database is sqlite or postgres; Version and Commit are the
	// service's own, as it reports them.
	Database string             `json:"database"`
	Version  string             `json:"version"`
	Commit   string             `json:"commit"`
	Process  *provision.Process `json:"process,omitempty"`
}

// wantsAdmin reports whether a deployment's values send events to the
// admin service that the chart deploys.
func wantsAdmin(full map[string]any) bool {
	sink, _ := lookup(full, valEventSink).(string)
	enabled, ok := lookup(full, valAdminEnabled).(bool)
	return sink == sinkAdmin && (enabled || !ok)
}

// adminServiceURL is the in-cluster URL the chart gives the admin sink
// when it has none (the chart's benchflow.config helper).
func adminServiceURL(release, namespace string, full map[string]any) string {
	port := adminPort(full)
	name := release
	if !strings.Contains(release, "benchflow") {
		name = release + "-benchflow"
	}
	name = strings.TrimSuffix(truncate(name+"-admin", 63), "-")
	return fmt.Sprintf("http://%s.%s.svc:%d", name, namespace, port)
}

// adminPort is the admin Service's port in a values tree (YAML numbers
// decode as float64, --set ones as int).
func adminPort(vals map[string]any) int {
	switch v := lookup(vals, valAdminPort).(type) {
	case float64:
		return int(v)
	case int:
		return v
	case int64:
		return int(v)
	}
	return defaultAdminPort
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// lookup reads a dotted path of a values tree.
func lookup(vals map[string]any, path string) any {
	parts := strings.Split(path, ".")
	m, ok := lookupMap(vals, strings.Join(parts[:len(parts)-1], "."))
	if len(parts) == 1 {
		m, ok = vals, true
	}
	if !ok {
		return nil
	}
	return m[parts[len(parts)-1]]
}

// redactDSN hides a database password; a DSN is a credential and never
// goes into a manifest or a report.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}

// startHostAdmin starts the admin service for a host controller: on
// loopback, with a fresh SQLite file in the deployment's directory, or
// with the DSN of the values (written 0600 and passed as a file, so it
// never appears in a process list). It points the controller's admin
// sink at it and stops the chart's admin Deployment from running.
func (h *hostController) startHostAdmin(ctx context.Context, c *provision.Cluster, store *provision.Store, opts Options, build *ControllerBuild, vals map[string]any, d *Deployment) error {
	if len(build.Admin) == 0 {
		return errors.New("the config sends events to the admin service (events.sink: admin), but this controller source has no controller/cmd/benchadmin")
	}
	ports, err := local.FreePorts(1)
	if err != nil {
		return err
	}
	address := "127.0.0.1:" + strconv.Itoa(ports[0])
	args := append(append([]string{}, build.Admin[1:]...), "--listen", address)
	if dsn, _ := lookup(vals, valAdminDSN).(string); dsn != "" {
		f := filepath.Join(h.dir, "admin-dsn")
		if err := provision.WriteFile0600(f, []byte(dsn)); err != nil {
			return fmt.Errorf("write admin DSN: %w", err)
		}
		args = append(args, "--db-file", f)
	} else {
		db := filepath.Join(h.dir, "admin.db")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(db + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove the previous admin database: %w", err)
			}
		}
		args = append(args, "--db", "sqlite://"+db)
	}
	d.Admin = &AdminDeployment{Endpoint: "http://" + address}
	proc, err := startHostProcess(ctx, c, store, adminProcessName(opts.Name), build.Admin[0], args, d.Admin.Endpoint, opts.Timeout, "admin service")
	d.Admin.Process = proc
	if err != nil {
		return err
	}
	setValue(vals, valAdminURL, d.Admin.Endpoint)
	setValue(vals, valAdminReplicas, 0)
	return nil
}

// adminProcessName names a deployment's admin process in the cluster
// record.
func adminProcessName(name string) string { return "benchadmin-" + name }

// waitReady polls url/readyz until it answers 200, the process exits or
// the timeout passes.
func waitReady(ctx context.Context, endpoint string, timeout time.Duration, r *local.Running, logPath, what string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		if done, err := r.Exited(); done {
			return fmt.Errorf("%s exited during startup (%v); last lines of %s:\n%s", what, err, logPath, local.LogTail(logPath, 30))
		}
		if resp, err := client.Get(endpoint + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s/readyz after %s; last lines of %s:\n%s", what, endpoint, timeout, logPath, local.LogTail(logPath, 30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// fetchAdminInfo records what the running admin service says about
// itself: its version and database kind (never its DSN).
func fetchAdminInfo(ctx context.Context, endpoint string, a *AdminDeployment) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := (&admin.Client{BaseURL: endpoint}).Version(ctx)
	if err != nil {
		return fmt.Errorf("admin service: %w", err)
	}
	a.Version, a.Commit, a.Database = info.Version, info.Commit, info.Database
	return nil
}
