// Command benchtask is the user code of every benchctl task pod in a real
// cluster: it reads its inputs, sleeps for the task's duration, writes
// outputs of the declared size to the blobstore, and reports the instants
// its work started and finished (nanoseconds) in its termination message,
// the same JSON that KWOK writes on the local cluster.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/taskdata"
)

type options struct {
	duration       time.Duration
	blobURL        string
	inputsKey      string
	outputsKey     string
	outputBytes    int64
	seed           string
	fail           bool
	noOutputs      bool
	terminationLog string
	// A dynamic node's generator task also writes its sub-DAG.
	dynamicKey       string
	dynamicGenerator string
	dynamic          v1alpha1.DynamicSpec
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtask:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "benchtask:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("benchtask", flag.ContinueOnError)
	fs.DurationVar(&o.duration, "duration", 0, "how long the user code runs")
	fs.StringVar(&o.blobURL, "blob-url", "", "blobstore bucket URL (file://, mem://, s3://, gs://)")
	fs.StringVar(&o.inputsKey, "inputs-key", "", "blob key of the inputs document to read first (optional)")
	fs.StringVar(&o.outputsKey, "outputs-key", "", "blob key to write the outputs to")
	fs.Int64Var(&o.outputBytes, "output-bytes", 0, "size of the outputs")
	fs.StringVar(&o.seed, "seed", "", "input hash the output bytes derive from")
	fs.BoolVar(&o.fail, "fail", false, "end with exit code 1 after the work (a failing attempt)")
	fs.BoolVar(&o.noOutputs, "no-outputs", false, "do not write outputs (the controller simulates them)")
	fs.StringVar(&o.terminationLog, "termination-log", "/dev/termination-log", "where to write the termination message")
	fs.StringVar(&o.dynamicKey, "dynamic-key", "", "blob key to write the sub-DAG of a dynamic node to (generator tasks only)")
	fs.StringVar(&o.dynamicGenerator, "dynamic-generator", "", "the dynamic node's task, reused by nested dynamic nodes")
	width := fs.Int("dynamic-width", 0, "sub-DAG width")
	depth := fs.Int("dynamic-depth", 0, "sub-DAG nesting depth")
	fs.StringVar(&o.dynamic.LeafTask, "dynamic-leaf-task", "", "task of the innermost sub-DAG's nodes")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.dynamic.Width, o.dynamic.Depth = int32(*width), int32(*depth)
	if o.dynamicKey != "" && (o.blobURL == "" || o.dynamic.Width < 1 || o.dynamic.Depth < 1 || o.dynamic.LeafTask == "" || o.dynamicGenerator == "") {
		return o, errors.New("--dynamic-key needs --blob-url, --dynamic-generator, --dynamic-leaf-task and positive --dynamic-width and --dynamic-depth")
	}
	if o.duration < 0 || o.outputBytes < 0 {
		return o, errors.New("--duration and --output-bytes must not be negative")
	}
	if !o.noOutputs && (o.blobURL == "" || o.outputsKey == "") {
		return o, errors.New("--blob-url and --outputs-key are required unless --no-outputs")
	}
	return o, nil
}

func run(ctx context.Context, o options) error {
	started := time.Now()
	var bucket *blob.Bucket
	if o.blobURL != "" && (o.inputsKey != "" || !o.noOutputs || o.dynamicKey != "") {
		var err error
		if bucket, err = blob.OpenBucket(ctx, o.blobURL); err != nil {
			return fmt.Errorf("open blobstore %s: %w", o.blobURL, err)
		}
		defer bucket.Close()
	}
	if bucket != nil && o.inputsKey != "" {
		if _, err := bucket.ReadAll(ctx, o.inputsKey); err != nil {
			return fmt.Errorf("read inputs %s: %w", o.inputsKey, err)
		}
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("interrupted: %w", ctx.Err())
	case <-time.After(o.duration - time.Since(started)):
	}
	if !o.noOutputs {
		w, err := bucket.NewWriter(ctx, o.outputsKey, nil)
		if err != nil {
			return fmt.Errorf("write outputs %s: %w", o.outputsKey, err)
		}
		if err := taskdata.WritePayload(w, o.seed, o.outputBytes); err != nil {
			_ = w.Close()
			return fmt.Errorf("write outputs %s: %w", o.outputsKey, err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("write outputs %s: %w", o.outputsKey, err)
		}
	}
	if o.dynamicKey != "" {
		// The same deterministic expansion the controller uses when no code
		// runs in pods.
		dag, err := json.Marshal(v1alpha1.ExpandDynamic(o.dynamicGenerator, o.dynamic))
		if err != nil {
			return fmt.Errorf("encode sub-DAG: %w", err)
		}
		if err := bucket.WriteAll(ctx, o.dynamicKey, dag, nil); err != nil {
			return fmt.Errorf("write sub-DAG %s: %w", o.dynamicKey, err)
		}
	}
	msg := v1alpha1.TerminationMessage{StartedAt: started, FinishedAt: time.Now()}.String()
	if err := os.WriteFile(o.terminationLog, []byte(msg), 0o644); err != nil {
		return fmt.Errorf("write termination message: %w", err)
	}
	if o.fail {
		return errors.New("failing as asked (--fail)")
	}
	return nil
}
