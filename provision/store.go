package provision

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"syscall"

	"github.com/google/renameio/v2"

	"sigs.k8s.io/yaml"
)

// ErrExists is returned when a cluster name is already taken.
var ErrExists = errors.New("cluster already exists")

// ErrNotFound is returned when no cluster has the given name.
var ErrNotFound = errors.New("no such cluster")

const recordFile = "cluster.yaml"

// DefaultStateDir is where cluster records live unless --state-dir or
// BENCHCTL_STATE_DIR says otherwise: $XDG_STATE_HOME/benchctl, else
// ~/.local/state/benchctl.
func DefaultStateDir() string {
	if d := os.Getenv("BENCHCTL_STATE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "benchctl")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "benchctl-state")
	}
	return filepath.Join(home, ".local", "state", "benchctl")
}

// Store keeps one directory per cluster under Dir/clusters.
type Store struct {
	Dir string
}

// NewStore returns a store rooted at dir.
func NewStore(dir string) *Store { return &Store{Dir: dir} }

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$`)

// ValidateName checks that a cluster name is a short DNS label, since it
// becomes a directory, a kind cluster name and a cloud resource name.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("invalid cluster name %q: use 1-40 lower-case letters, digits and '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// ClusterDir is the state directory of the named cluster.
func (s *Store) ClusterDir(name string) string {
	return filepath.Join(s.Dir, "clusters", name)
}

// Reserve claims a name atomically by creating its directory; it fails
// with ErrExists when the name is taken, even by a concurrent benchctl.
func (s *Store) Reserve(name string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "clusters"), 0o700); err != nil {
		return "", fmt.Errorf("create state dir: %w", err)
	}
	dir := s.ClusterDir(name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("cluster %q: %w (state in %s); tear it down first or pick another --name", name, ErrExists, dir)
		}
		return "", fmt.Errorf("reserve cluster %q: %w", name, err)
	}
	return dir, nil
}

// Save writes the cluster record atomically.
func (s *Store) Save(c *Cluster) error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode cluster %q: %w", c.Name, err)
	}
	if err := WriteFile0600(filepath.Join(s.ClusterDir(c.Name), recordFile), b); err != nil {
		return fmt.Errorf("write cluster %q: %w", c.Name, err)
	}
	return nil
}

// recordLockFile serialises the read-modify-write of a cluster record.
const recordLockFile = "cluster.lock"

// Update changes the named cluster's record under an exclusive lock: it
// reads the record as it is on disk, applies f and writes the result, so
// two benchctl processes (a run undeploying, a deploy starting a
// controller, a test restarting the API server) never overwrite each
// other's changes with a stale copy, as Save of a record loaded earlier
// would. It returns the record as written; nothing is written when f
// fails.
func (s *Store) Update(name string, f func(*Cluster) error) (*Cluster, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(s.ClusterDir(name), recordLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("cluster %q: %w (looked in %s)", name, ErrNotFound, s.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("lock cluster record %q: %w", name, err)
	}
	defer lock.Close() // which releases the lock
	// Held only for a read and a write (and f), so waiting is short.
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("lock cluster record %q: %w", name, err)
	}
	c, err := s.Load(name)
	if err != nil {
		return nil, err
	}
	if err := f(c); err != nil {
		return nil, err
	}
	if err := s.Save(c); err != nil {
		return nil, err
	}
	return c, nil
}

// Load reads the named cluster's record.
func (s *Store) Load(name string) (*Cluster, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	path := filepath.Join(s.ClusterDir(name), recordFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("cluster %q: %w (looked in %s)", name, ErrNotFound, s.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read cluster %q: %w", name, err)
	}
	var c Cluster
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.Dir = s.ClusterDir(name)
	return &c, nil
}

// List returns every recorded cluster, sorted by name. A directory
// without a record (a create in progress or one that crashed) is returned
// with only its name and Dir set, so it can still be torn down.
func (s *Store) List() ([]*Cluster, error) {
	entries, err := os.ReadDir(filepath.Join(s.Dir, "clusters"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	var out []*Cluster
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c, err := s.Load(e.Name())
		if errors.Is(err, ErrNotFound) {
			c = &Cluster{Name: e.Name(), Dir: s.ClusterDir(e.Name())}
		} else if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes the cluster's state directory.
func (s *Store) Remove(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if err := os.RemoveAll(s.ClusterDir(name)); err != nil {
		return fmt.Errorf("remove state of cluster %q: %w", name, err)
	}
	return nil
}

// WriteFile0600 writes data whole or not at all (renameio: a temporary
// file, synced, renamed over path) with mode 0600 whatever the file had:
// the files it writes hold credentials or point at them.
func WriteFile0600(path string, data []byte) error {
	f, err := renameio.NewPendingFile(path, renameio.WithStaticPermissions(0o600))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer f.Cleanup()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
