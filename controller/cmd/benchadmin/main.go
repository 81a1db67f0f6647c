// Command benchadmin is the bundled admin service: it persists the
// controller's events in SQLite or PostgreSQL and derives execution
// metrics from them. In a cluster it runs from the chart's admin
// Deployment; on the local provider benchctl runs it on the host (as
// 'benchctl admin', the same code).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/benchctl/benchctl/controller/admin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := admin.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchadmin:", err)
		if errors.As(err, new(admin.UsageError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
