// Command benchflow is the bundled workflow controller, the system under
// test of benchctl. In a cluster it runs from the chart's Deployment; on the
// local provider benchctl runs it on the host with the chart's rendered
// config (as 'benchctl controller', the same code).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/benchctl/benchctl/controller"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := controller.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchflow:", err)
		if errors.As(err, new(controller.UsageError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
