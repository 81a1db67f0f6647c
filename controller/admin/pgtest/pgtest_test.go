package pgtest_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/benchctl/benchctl/controller/admin/pgtest"
)

func TestStart(t *testing.T) {
	dsn := pgtest.Start(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range []struct{ setting, want string }{
		{"fsync", "on"},
		{"listen_addresses", "127.0.0.1"},
		{"synchronous_commit", "on"},
	} {
		var got string
		if err := db.QueryRowContext(context.Background(), "SELECT current_setting($1)", c.setting).Scan(&got); err != nil {
			t.Fatalf("%s: %v", c.setting, err)
		}
		if got != c.want {
			t.Errorf("%s = %q, want %q", c.setting, got, c.want)
		}
	}
}
