package engine

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/catalog"
	"github.com/benchctl/benchctl/controller/events"
	"github.com/benchctl/benchctl/controller/obs"
	"github.com/benchctl/benchctl/controller/taskdata"
)

// Map nodes keep one byte per item (v1alpha1.MapItem*) plus the attempts of
// retried items, so the status of a 10,000-item map is about 10 kB. Each
// item is one pod per attempt, named like a task pod with the item index.

// parseRetried decodes MapStatus.Retried ("index:attempts,...").
func parseRetried(s string) map[int]int32 {
	m := map[int]int32{}
	if s == "" {
		return m
	}
	for part := range strings.SplitSeq(s, ",") {
		i, a, ok := strings.Cut(part, ":")
		if !ok {
			continue
		}
		idx, err1 := strconv.Atoi(i)
		att, err2 := strconv.Atoi(a)
		if err1 == nil && err2 == nil {
			m[idx] = int32(att)
		}
	}
	return m
}

func formatRetried(m map[int]int32) string {
	idx := make([]int, 0, len(m))
	for i := range m {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	var b strings.Builder
	for n, i := range idx {
		if n > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d:%d", i, m[i])
	}
	return b.String()
}

// itemAttempt is the current attempt of an item (1 unless retried).
func itemAttempt(retried map[int]int32, i int) int32 {
	if a, ok := retried[i]; ok {
		return a
	}
	return 1
}

// requiredSuccesses is how many items must succeed.
func requiredSuccesses(spec *v1alpha1.MapSpec) int {
	ratio := 1.0
	if spec.MinSuccessRatio != nil {
		ratio = spec.MinSuccessRatio.AsApproximateFloat64()
	}
	return int(math.Ceil(ratio*float64(spec.Size) - 1e-9))
}

// observeMap takes the observe step of a running map node: it collects the
// items whose pods ended, retries or fails them, and ends the node once its
// outcome is decided.
func (ev *evaluator) observeMap(ctx context.Context, s *scope, id string, spec v1alpha1.NodeSpec, st *v1alpha1.NodeStatus) error {
	path := s.path(id)
	task := ev.p.closure.Tasks[spec.Task]
	items := []byte(st.Map.Items)
	retried := parseRetried(st.Map.Retried)
	retriedChanged := false
	for i, b := range items {
		if b != v1alpha1.MapItemRunning {
			continue
		}
		attempt := itemAttempt(retried, i)
		name := PodName(ev.wf.Name, path, i, attempt)
		pod, err := ev.e.observePod(ctx, name, st.Launched)
		if err != nil {
			return err
		}
		if pod == nil {
			continue
		}
		ictx, span := ev.nodeSpan(ctx, path, spec.Kind, v1alpha1.NodeRunning, attempt, i)
		ev.e.podEndSeen(span, name)
		res, err := ev.e.completePod(ictx, span, pod, ev.itemOutputsKey(path, i, attempt), task, nil)
		if err != nil {
			obs.End(span, err)
			return err
		}
		ev.running--
		if res.ok && task.Cacheable {
			hash, err := ev.inputHash(ictx, path)
			if err == nil {
				err = ev.e.cat.Put(ictx, catalog.Key{Task: spec.Task, Version: task.Version, InputHash: taskdata.ItemHash(hash, i)}, res.outputs)
			}
			if err != nil {
				obs.End(span, err)
				return err
			}
		}
		to := v1alpha1.NodeSucceeded
		taskPhase := "Succeeded"
		switch {
		case res.ok:
			items[i] = v1alpha1.MapItemSucceeded
		case attempt <= task.Retries:
			items[i] = v1alpha1.MapItemNotStarted
			retried[i] = attempt + 1
			retriedChanged = true
			to, taskPhase = v1alpha1.NodeQueued, "Failed"
		default:
			items[i] = v1alpha1.MapItemFailed
			to, taskPhase = v1alpha1.NodeFailed, "Failed"
		}
		ev.itemDone(ictx, span, path, spec.Kind, i, attempt, to)
		ev.record(ictx, events.Event{Kind: events.KindTask, Time: taskEnd(res), Node: path, MapItem: i, Attempt: attempt, Phase: taskPhase, Message: res.reason})
		span.End()
		ev.touchItem(path, i)
	}
	st.Map.Items = string(items)
	if retriedChanged {
		st.Map.Retried = formatRetried(retried)
	}
	ev.wf.Status.Nodes[path] = *st

	// Decide the node once the outcome is known.
	var ok, failed, done int
	for _, b := range items {
		switch b {
		case v1alpha1.MapItemSucceeded, v1alpha1.MapItemCached:
			ok++
			done++
		case v1alpha1.MapItemFailed:
			failed++
			done++
		}
	}
	need := requiredSuccesses(spec.Map)
	n := len(items)
	switch {
	case failed > n-need:
		ev.touched[path] = true
		nctx, span := ev.nodeSpan(ctx, path, spec.Kind, st.Phase, st.Attempts, -1)
		msg := fmt.Sprintf("%d of %d items failed; minSuccessRatio needs %d to succeed", failed, n, need)
		ev.fail(path, msg)
		ev.transition(nctx, span, path, spec.Kind, st, v1alpha1.NodeFailed, msg)
		span.End()
	case done == n:
		ev.touched[path] = true
		nctx, span := ev.nodeSpan(ctx, path, spec.Kind, st.Phase, st.Attempts, -1)
		hash, err := ev.inputHash(nctx, path)
		if err != nil {
			obs.End(span, err)
			return err
		}
		manifest := taskdata.MapManifest{Items: n, Succeeded: ok, SHA256: taskdata.Digest([]byte(hash + st.Map.Items))}
		if err := ev.e.blobs.Write(nctx, ev.outputsKey(path, *st), "outputs", manifest.Marshal()); err != nil {
			obs.End(span, err)
			return err
		}
		ev.transition(nctx, span, path, spec.Kind, st, v1alpha1.NodeSucceeded, "")
		span.End()
	}
	return nil
}

// touchItem marks an item as having taken its step this round.
func (ev *evaluator) touchItem(id string, i int) {
	if ev.touchedItems == nil {
		ev.touchedItems = map[string]map[int]bool{}
	}
	if ev.touchedItems[id] == nil {
		ev.touchedItems[id] = map[int]bool{}
	}
	ev.touchedItems[id][i] = true
}

// itemDone records an item's transition on its span and in the metrics.
func (ev *evaluator) itemDone(_ context.Context, span spanSetter, _ string, kind v1alpha1.NodeKind, _ int, attempt int32, to v1alpha1.NodePhase) {
	span.SetAttributes(attribute.String(telemetry.AttrPhaseTo, phaseName(to)), attribute.Int(telemetry.AttrAttempt, int(attempt)))
	ev.e.tel.Metrics.NodeTransitions.WithLabelValues(string(kind)+"-item", phaseName(to)).Inc()
	ev.changed = true
}

type spanSetter interface {
	SetAttributes(kv ...attribute.KeyValue)
}

// launchMap takes the launch step of a map node: on its first step it
// writes its inputs and starts; then it launches waiting items, in index
// order, within the map's own parallelism and the execution's budget.
func (ev *evaluator) launchMap(ctx context.Context, s *scope, id string, spec v1alpha1.NodeSpec, st *v1alpha1.NodeStatus) error {
	path := s.path(id)
	task := ev.p.closure.Tasks[spec.Task]
	var hash, inKey string
	if st.Phase == v1alpha1.NodeNotStarted {
		if !ev.budget() {
			return nil
		}
		nctx, span := ev.nodeSpan(ctx, path, spec.Kind, st.Phase, 0, -1)
		var err error
		hash, inKey, err = ev.prepareInputs(nctx, s, id)
		if err != nil {
			obs.End(span, err)
			return err
		}
		st.Map = &v1alpha1.MapStatus{Items: strings.Repeat(string(rune(v1alpha1.MapItemNotStarted)), int(spec.Map.Size))}
		ev.transition(nctx, span, path, spec.Kind, st, v1alpha1.NodeRunning, "")
		span.End()
	} else {
		var err error
		if hash, err = ev.inputHash(ctx, path); err != nil {
			return err
		}
		inKey = ev.inputsKey(path)
	}
	items := []byte(st.Map.Items)
	running := int32(strings.Count(st.Map.Items, string(rune(v1alpha1.MapItemRunning))))
	retried := parseRetried(st.Map.Retried)
	defer func() {
		st.Map.Items = string(items)
		ev.wf.Status.Nodes[path] = *st
	}()
	// Choose items in index order, within the map's parallelism and the
	// execution's budget, holding a slot for each; launch them
	// launchConcurrency at a time (each is a catalog lookup and a pod
	// create, independent of the others: pod names are deterministic, so
	// only-once holds whatever the order); then record the outcomes in
	// index order. Cache hits give their slots back, so choose again
	// until no slot is left or no hit freed one.
	for {
		var batch []itemLaunch
		for i, b := range items {
			if b != v1alpha1.MapItemNotStarted || ev.touchedItems[path][i] {
				continue
			}
			if (spec.Map.Parallelism > 0 && running >= spec.Map.Parallelism) || !ev.budget() {
				break
			}
			batch = append(batch, itemLaunch{item: i, attempt: itemAttempt(retried, i)})
			items[i] = v1alpha1.MapItemRunning // chosen; settled below
			running++
			ev.running++
		}
		ev.e.launchAll(ctx, len(batch), func(ctx context.Context, k int) error {
			l := &batch[k]
			l.ctx, l.span = ev.nodeSpan(ctx, path, spec.Kind, v1alpha1.NodeNotStarted, l.attempt, l.item)
			itemHash := taskdata.ItemHash(hash, l.item)
			if task.Cacheable && l.attempt == 1 {
				l.hit, l.err = ev.fromCatalog(l.ctx, catalog.Key{Task: spec.Task, Version: task.Version, InputHash: itemHash}, ev.itemOutputsKey(path, l.item, 0))
				if l.err != nil || l.hit {
					return l.err
				}
			}
			l.launched, l.err = ev.e.launchPod(l.ctx, ev.wf, podSpec{
				node: path, item: l.item, attempt: l.attempt, task: task, inputsKey: inKey,
				outputsKey: ev.itemOutputsKey(path, l.item, l.attempt), seed: itemHash,
			})
			if l.err == nil {
				ev.record(l.ctx, events.Event{Kind: events.KindTask, Time: l.launched, Node: path, MapItem: l.item, Attempt: l.attempt, Phase: "Running"})
			}
			return l.err
		})
		// On an error the round fails and nothing is persisted: the pods
		// already created are adopted by the next round.
		var firstErr error
		hits := 0
		for k := range batch {
			l := &batch[k]
			switch {
			case l.span == nil, l.err != nil: // not started (an earlier launch failed), or failed
				items[l.item] = v1alpha1.MapItemNotStarted
				running--
				ev.running--
				if l.span != nil {
					obs.End(l.span, l.err)
					firstErr = cmp.Or(firstErr, l.err)
				}
				continue
			case l.hit:
				hits++
				running--
				ev.running--
				items[l.item] = v1alpha1.MapItemCached
				l.span.SetAttributes(attribute.Bool(telemetry.AttrCached, true))
				ev.itemDone(l.ctx, l.span, path, spec.Kind, l.item, 0, v1alpha1.NodeSucceeded)
			default:
				if l.launched.UnixNano() > st.Launched {
					st.Launched = l.launched.UnixNano() // latest launch, for the missing-pod timeout
				}
				ev.itemDone(l.ctx, l.span, path, spec.Kind, l.item, l.attempt, v1alpha1.NodeRunning)
			}
			l.span.End()
		}
		if firstErr != nil {
			return firstErr
		}
		if hits == 0 {
			return nil
		}
	}
}

// itemLaunch is one map item launched in a round, and its outcome.
type itemLaunch struct {
	item     int
	attempt  int32
	ctx      context.Context
	span     trace.Span
	hit      bool
	launched time.Time
	err      error
}
