package images

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// caPath is where Go's crypto/x509 (and most TLS stacks) look first on
// Linux.
const caPath = "/etc/ssl/certs/ca-certificates.crt"

// caBundles are the host files tried for the CA bundle, in Go's
// crypto/x509 order on Linux.
var caBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Gentoo, Arch
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL 6
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
	"/etc/ssl/cert.pem",                                 // Alpine
}

// DefaultCABundle is the host's CA bundle, or "" if it has none of the
// usual files.
func DefaultCABundle() string {
	for _, p := range caBundles {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// caBundle reads the bundle the options ask for (nil: none).
func caBundle(opt string) ([]byte, error) {
	switch opt {
	case "none":
		return nil, nil
	case "":
		if opt = DefaultCABundle(); opt == "" {
			// Without it, TLS from the pods fails (S3, GCS, OTLP over
			// https); say so, but the local and kind setups need none.
			return nil, nil
		}
	}
	b, err := os.ReadFile(opt)
	if err != nil {
		return nil, inputErrorf("--ca-bundle: %w", err)
	}
	return b, nil
}

// entry is one file or directory of a layer.
type entry struct {
	name     string
	mode     int64
	uid, gid int
	body     []byte // nil for a directory
	file     string // or the file to copy
}

const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group  = "root:x:0:\nnonroot:x:65532:\n"
)

// baseLayer is the part of the filesystem every image shares: what a
// static Go program expects of distroless/static, less its packages.
func baseLayer(path string, ca []byte, mtime time.Time) (v1.Layer, error) {
	es := []entry{
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, body: []byte(group)},
		{name: "etc/passwd", mode: 0o644, body: []byte(passwd)},
	}
	if ca != nil {
		es = append(es,
			entry{name: "etc/ssl/", mode: 0o755},
			entry{name: "etc/ssl/certs/", mode: 0o755},
			entry{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, body: ca})
	}
	es = append(es,
		entry{name: "home/", mode: 0o755},
		entry{name: "home/nonroot/", mode: 0o700, uid: 65532, gid: 65532},
		entry{name: "tmp/", mode: 0o1777})
	return writeLayer(path, es, mtime)
}

// binaryLayer holds the binary at /<name>.
func binaryLayer(path, bin, name string, mtime time.Time) (v1.Layer, error) {
	return writeLayer(path, []entry{{name: name, mode: 0o755, file: bin}}, mtime)
}

// writeLayer writes a gzipped tar of es to path and opens it as a layer.
// Fixed owners, modes and times and stdlib gzip with no header name or
// time make the bytes, hence the digest, a function of the contents.
// Compressing once into a file keeps both the digest and later writes
// (archives, pushes) from recompressing the binary.
func writeLayer(path string, es []entry, mtime time.Time) (v1.Layer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	tw := tar.NewWriter(zw)
	werr := func() error {
		for _, e := range es {
			if err := writeEntry(tw, e, mtime); err != nil {
				return fmt.Errorf("layer %s: %s: %w", path, e.name, err)
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return zw.Close()
	}()
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		return nil, werr
	}
	l, err := tarball.LayerFromFile(path, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", path, err)
	}
	return l, nil
}

func writeEntry(tw *tar.Writer, e entry, mtime time.Time) error {
	h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: mtime}
	if e.body == nil && e.file == "" {
		h.Typeflag = tar.TypeDir
		return tw.WriteHeader(h)
	}
	h.Typeflag = tar.TypeReg
	if e.file == "" {
		h.Size = int64(len(e.body))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(e.body)
		return err
	}
	src, err := os.Open(e.file)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return err
	}
	h.Size = st.Size()
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err = io.Copy(tw, src)
	return err
}
