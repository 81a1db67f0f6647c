package admin

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite", pure Go: no cgo in the images
)

// Database kinds, as Store.Kind and /api/v1/version report them.
const (
	KindSQLite   = "sqlite"
	KindPostgres = "postgres"
)

// Store persists events. It is one implementation over database/sql for
// both databases; the few dialect differences are in dialect.
type Store struct {
	db *sql.DB
	// bf is PostgreSQL's pool for backfill, sessions with
	// synchronous_commit off.
	bf *sql.DB
	d  dialect
	q  queries
}

// dialect holds what differs between SQLite and PostgreSQL.
type dialect struct {
	kind string
	// forUpdate locks the entity row in PostgreSQL; SQLite has one
	// connection and an IMMEDIATE transaction, so it is already serial.
	forUpdate string
	// seq orders events as persisted: SQLite's implicit rowid, a
	// PostgreSQL identity column.
	seq string
	// schema is migration 1.
	schema []string
}

var sqliteDialect = dialect{
	kind: KindSQLite,
	seq:  "rowid",
	schema: []string{
		eventsTable(""),
		`CREATE INDEX events_execution ON events (execution)`, // rowid is implicitly part of the index
		entitiesTable,
	},
}

var postgresDialect = dialect{
	kind:      KindPostgres,
	forUpdate: " FOR UPDATE",
	seq:       "seq",
	schema: []string{
		eventsTable("seq BIGINT GENERATED ALWAYS AS IDENTITY,\n"),
		`CREATE INDEX events_execution ON events (execution, seq)`,
		entitiesTable,
	},
}

// eventsTable is the events table; times are int64 Unix nanoseconds
// because PostgreSQL timestamps only have microseconds, and the metrics
// derived from them are compared at millisecond tolerance with span times.
func eventsTable(seq string) string {
	return `CREATE TABLE events (
` + seq + `id TEXT PRIMARY KEY,
execution TEXT NOT NULL,
kind TEXT NOT NULL,
namespace TEXT NOT NULL,
workflow TEXT NOT NULL,
node TEXT NOT NULL,
map_item INTEGER NOT NULL,
attempt INTEGER NOT NULL,
phase TEXT NOT NULL,
message TEXT NOT NULL,
occurred_at BIGINT NOT NULL,
recorded_at BIGINT NOT NULL,
write_ns BIGINT NOT NULL)`
}

// entitiesTable holds the current phase of each entity, the state the
// phase check reads and locks.
const entitiesTable = `CREATE TABLE entities (
execution TEXT NOT NULL,
workflow TEXT NOT NULL,
kind TEXT NOT NULL,
node TEXT NOT NULL,
map_item INTEGER NOT NULL,
attempt INTEGER NOT NULL,
phase TEXT NOT NULL,
updated_at BIGINT NOT NULL,
PRIMARY KEY (execution, workflow, kind, node, map_item, attempt))`

// schemaVersion is the number of migrations this binary knows.
const schemaVersion = 1

// queries are rebound for the dialect once, at Open.
type queries struct {
	exists, placeholder, lock, update, insert, backfill, events string
}

const eventColumns = `id, execution, kind, namespace, workflow, node, map_item, attempt, phase, message, occurred_at, recorded_at, write_ns`

func newQueries(d dialect) queries {
	r := func(q string) string { return rebind(d, q) }
	return queries{
		exists:      r(`SELECT 1 FROM events WHERE id = ?`),
		placeholder: r(`INSERT INTO entities (execution, workflow, kind, node, map_item, attempt, phase, updated_at) VALUES (?, ?, ?, ?, ?, ?, '', 0) ON CONFLICT DO NOTHING`),
		lock:        r(`SELECT phase FROM entities WHERE execution = ? AND workflow = ? AND kind = ? AND node = ? AND map_item = ? AND attempt = ?` + d.forUpdate),
		update:      r(`UPDATE entities SET phase = ?, updated_at = ? WHERE execution = ? AND workflow = ? AND kind = ? AND node = ? AND map_item = ? AND attempt = ?`),
		insert:      r(`INSERT INTO events (` + eventColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
		backfill:    r(`UPDATE events SET recorded_at = ?, write_ns = ? WHERE id = ?`),
		events:      r(`SELECT ` + eventColumns + ` FROM events WHERE execution = ? ORDER BY ` + d.seq),
	}
}

// rebind turns ? placeholders into PostgreSQL's $n.
func rebind(d dialect, q string) string {
	if d.kind != KindPostgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// dsnForms is the error text for an unsupported DSN.
const dsnForms = "sqlite:///abs/path.db, sqlite://rel/path.db, postgres://user[:password]@host[:port]/db[?params] or postgresql://..."

// Open opens (creating or migrating the schema) the database named by dsn:
// "sqlite:///abs/path.db", "sqlite://rel/path.db", or a "postgres://" or
// "postgresql://" URL as pgx accepts it.
func Open(ctx context.Context, dsn string) (*Store, error) {
	var s *Store
	switch {
	case strings.HasPrefix(dsn, "sqlite://"):
		path := strings.TrimPrefix(dsn, "sqlite://")
		if path == "" || strings.ContainsAny(path, "?#") {
			return nil, fmt.Errorf("sqlite DSN %q: want a file path without query parameters (%s)", dsn, dsnForms)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("sqlite database directory: %w", err)
		}
		// WAL with synchronous=FULL fsyncs the log on every commit, so a
		// committed event survives a power loss, as in PostgreSQL with
		// fsync on. IMMEDIATE transactions take the write lock at BEGIN
		// rather than failing to upgrade a read lock later; the busy
		// timeout covers another process (a second benchadmin, the sqlite3
		// shell) holding it.
		db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		// One connection: SQLite has a single writer anyway, and queueing
		// in database/sql is cheaper than SQLITE_BUSY retries.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		s = &Store{db: db, d: sqliteDialect}
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(16)
		u, err := url.Parse(dsn)
		if err != nil {
			db.Close()
			return nil, errors.New("postgres DSN is not a valid URL") // url's error would quote the password
		}
		q := u.Query()
		q.Set("synchronous_commit", "off") // pgx sends unknown parameters as session settings
		u.RawQuery = q.Encode()
		bf, err := sql.Open("pgx", u.String())
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		bf.SetMaxOpenConns(4)
		bf.SetMaxIdleConns(4)
		s = &Store{db: db, bf: bf, d: postgresDialect}
	default:
		scheme, _, _ := strings.Cut(dsn, ":")
		return nil, fmt.Errorf("unsupported database DSN (scheme %q): want %s", scheme, dsnForms)
	}
	s.q = newQueries(s.d)
	if err := s.db.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("connect to %s: %w", s.d.kind, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// migrate brings the schema to schemaVersion in one transaction, refusing a
// database written by a newer benchadmin.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	defer tx.Rollback()
	if s.d.kind == KindPostgres {
		// Two replicas starting at once must not both create the tables.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(8089)`); err != nil {
			return fmt.Errorf("migrate schema: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	var v sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("migrate schema: read version: %w", err)
	}
	switch {
	case v.Int64 > schemaVersion:
		return fmt.Errorf("database schema version %d is newer than this benchadmin's (%d)", v.Int64, schemaVersion)
	case v.Int64 == schemaVersion:
		return nil
	}
	migrations := [][]string{s.d.schema}
	for i := v.Int64; i < schemaVersion; i++ {
		for _, stmt := range migrations[i] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, rebind(s.d, `INSERT INTO schema_version (version) VALUES (?)`), i+1); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", i+1, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate schema: commit: %w", err)
	}
	return nil
}

// Kind is "sqlite" or "postgres".
func (s *Store) Kind() string { return s.d.kind }

// Ping checks the database connection, for /readyz.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.d.kind, err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	if s.bf != nil {
		s.bf.Close()
	}
	return s.db.Close()
}

// Record persists e in one transaction: a duplicate id is AlreadyExists
// (and nothing changes), a phase behind the entity's current one, or a
// different phase after a terminal one, is IncompatiblePhase; otherwise
// the event is inserted and the entity's phase updated. An empty ID
// becomes e.Key().
func (s *Store) Record(ctx context.Context, e Event) (Persisted, error) {
	if e.ID == "" {
		e.ID = e.Key()
	}
	if err := e.Validate(); err != nil {
		return Persisted{}, err
	}
	start := time.Now()
	if err := s.record(ctx, e, start); err != nil {
		return Persisted{}, err
	}
	now := time.Now()
	writeNS := now.Sub(start).Nanoseconds()
	// As Events returns it: UTC, no monotonic reading, seconds from ns.
	p := Persisted{Event: e, RecordedAt: time.Unix(0, now.UnixNano()).UTC(), WriteSeconds: float64(writeNS) / 1e9}
	p.OccurredAt = time.Unix(0, e.OccurredAt.UnixNano()).UTC()
	s.backfill(ctx, p.ID, now.UnixNano(), writeNS)
	return p, nil
}

func (s *Store) record(ctx context.Context, e Event, start time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record event: begin: %w", err)
	}
	defer tx.Rollback()
	// The duplicate check comes first: a retried event whose entity has
	// moved on since is AlreadyExists, not IncompatiblePhase.
	var one int
	switch err := tx.QueryRowContext(ctx, s.q.exists, e.ID).Scan(&one); {
	case err == nil:
		return alreadyExists(e.ID)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("record event: %w", err)
	}
	// An execution's launch-plan children report under its id, with node
	// ids of their own: the workflow is part of an entity's identity.
	key := []any{e.Execution, e.Workflow, e.Kind, e.Node, e.MapItem, e.Attempt}
	// Create the entity row if needed, then lock it: with no row to lock,
	// two concurrent first events of one entity would both pass the check.
	if _, err := tx.ExecContext(ctx, s.q.placeholder, key...); err != nil {
		return fmt.Errorf("record event: entity: %w", err)
	}
	var current string
	if err := tx.QueryRowContext(ctx, s.q.lock, key...).Scan(&current); err != nil {
		return fmt.Errorf("record event: entity: %w", err)
	}
	if err := checkTransition(current, e.Phase); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q.update, append([]any{e.Phase, e.OccurredAt.UnixNano()}, key...)...); err != nil {
		return fmt.Errorf("record event: entity: %w", err)
	}
	// recorded_at and write_ns are provisional until backfill: the commit,
	// most of the cost, is not over yet.
	now := time.Now()
	res, err := tx.ExecContext(ctx, s.q.insert, e.ID, e.Execution, e.Kind, e.Namespace, e.Workflow, e.Node,
		e.MapItem, e.Attempt, e.Phase, e.Message, e.OccurredAt.UnixNano(), now.UnixNano(), now.Sub(start).Nanoseconds())
	if err != nil {
		return fmt.Errorf("record event: insert: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("record event: insert: %w", err)
	} else if n == 0 {
		return alreadyExists(e.ID) // a concurrent duplicate won
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record event: commit: %w", err)
	}
	return nil
}

func alreadyExists(id string) error {
	return &Error{Code: CodeAlreadyExists, Status: 409, Message: fmt.Sprintf("event %q is already persisted", id)}
}

// backfill stores the final commit time and transaction duration, which
// are only known after the commit. It is not synced to disk (PostgreSQL:
// a pool whose sessions have synchronous_commit off; SQLite: synchronous
// NORMAL, so the next durable commit syncs it): the event is already durable, and
// waiting for a second fsync would double the cost being measured. After a
// crash an event may keep its provisional values, measured just before
// the commit.
func (s *Store) backfill(ctx context.Context, id string, recordedAt, writeNS int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	args := []any{recordedAt, writeNS, id}
	err := func() error {
		if s.bf != nil {
			_, err := s.bf.ExecContext(ctx, s.q.backfill, args...)
			return err
		}
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		// The connection is the store's only one, so the pragma cannot
		// leak into another transaction; it is restored before release.
		if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
			return err
		}
		_, err = conn.ExecContext(ctx, s.q.backfill, args...)
		if _, err2 := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err2 != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn }) // drop the connection rather than reuse it non-durable
			return errors.Join(err, err2)
		}
		return err
	}()
	if err != nil {
		slog.WarnContext(ctx, "backfill event write time", "id", id, "err", err)
	}
}

// Events returns the events of execution in persisted order.
func (s *Store) Events(ctx context.Context, execution string) ([]Persisted, error) {
	rows, err := s.db.QueryContext(ctx, s.q.events, execution)
	if err != nil {
		return nil, fmt.Errorf("list events of %s: %w", execution, err)
	}
	defer rows.Close()
	out := []Persisted{}
	for rows.Next() {
		var p Persisted
		var occurred, recorded, writeNS int64
		if err := rows.Scan(&p.ID, &p.Execution, &p.Kind, &p.Namespace, &p.Workflow, &p.Node, &p.MapItem, &p.Attempt,
			&p.Phase, &p.Message, &occurred, &recorded, &writeNS); err != nil {
			return nil, fmt.Errorf("list events of %s: %w", execution, err)
		}
		p.OccurredAt = time.Unix(0, occurred).UTC()
		p.RecordedAt = time.Unix(0, recorded).UTC()
		p.WriteSeconds = float64(writeNS) / 1e9
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events of %s: %w", execution, err)
	}
	return out, nil
}
