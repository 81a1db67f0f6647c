package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/config"
)

// Scheme knows the Workflow types.
var Scheme = runtime.NewScheme()

func init() {
	if err := v1alpha1.AddToScheme(Scheme); err != nil {
		panic(err)
	}
}

// WorkflowClient is the part of the Workflow API the engine uses.
type WorkflowClient interface {
	cache.ListerWatcher
	// Update writes body (the JSON of wf) and returns the stored object.
	Update(ctx context.Context, wf *v1alpha1.Workflow, body []byte) (*v1alpha1.Workflow, error)
	Get(ctx context.Context, namespace, name string) (*v1alpha1.Workflow, error)
	Create(ctx context.Context, wf *v1alpha1.Workflow) (*v1alpha1.Workflow, error)
	// Patch applies a JSON merge patch to a Workflow; the engine uses it
	// only to fail a Workflow it cannot decode, which it must not write
	// back whole.
	Patch(ctx context.Context, namespace, name string, mergePatch []byte) error
	// Delete deletes a Workflow in the background (its dependents go with
	// it through garbage collection).
	Delete(ctx context.Context, namespace, name string) error
}

// restWorkflowClient talks to the API server with a plain REST client: the
// body of each update is encoded once, and its size is the update.bytes
// span attribute.
type restWorkflowClient struct {
	rc *rest.RESTClient
	// The concrete type, so WatchWithContext is promoted too: a caller
	// that must bound a watch's start gives it a context.
	*cache.ListWatch
}

// NewWorkflowClient returns a client for Workflows in namespace.
func NewWorkflowClient(cfg *rest.Config, namespace string) (WorkflowClient, error) {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &v1alpha1.SchemeGroupVersion
	c.APIPath = "/apis"
	c.ContentType, c.AcceptContentTypes = runtime.ContentTypeJSON, runtime.ContentTypeJSON
	c.NegotiatedSerializer = lenientSerializers{serializer.NewCodecFactory(Scheme).WithoutConversion()}
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("workflow REST client: %w", err)
	}
	return &restWorkflowClient{rc: rc, ListWatch: cache.NewListWatchFromClient(rc, "workflows", namespace, fields.Everything())}, nil
}

func (c *restWorkflowClient) Update(ctx context.Context, wf *v1alpha1.Workflow, body []byte) (*v1alpha1.Workflow, error) {
	out := &v1alpha1.Workflow{}
	err := c.rc.Put().Namespace(wf.Namespace).Resource("workflows").Name(wf.Name).
		SetHeader("Content-Type", runtime.ContentTypeJSON).Body(body).Do(ctx).Into(out)
	return out, err
}

func (c *restWorkflowClient) Get(ctx context.Context, namespace, name string) (*v1alpha1.Workflow, error) {
	out := &v1alpha1.Workflow{}
	err := c.rc.Get().Namespace(namespace).Resource("workflows").Name(name).Do(ctx).Into(out)
	return out, err
}

func (c *restWorkflowClient) Create(ctx context.Context, wf *v1alpha1.Workflow) (*v1alpha1.Workflow, error) {
	out := &v1alpha1.Workflow{}
	err := c.rc.Post().Namespace(wf.Namespace).Resource("workflows").Body(wf).Do(ctx).Into(out)
	return out, err
}

func (c *restWorkflowClient) Patch(ctx context.Context, namespace, name string, mergePatch []byte) error {
	return c.rc.Patch(types.MergePatchType).Namespace(namespace).Resource("workflows").Name(name).
		Body(mergePatch).Do(ctx).Error()
}

func (c *restWorkflowClient) Delete(ctx context.Context, namespace, name string) error {
	bg := metav1.DeletePropagationBackground
	return c.rc.Delete().Namespace(namespace).Resource("workflows").Name(name).
		Body(&metav1.DeleteOptions{PropagationPolicy: &bg}).Do(ctx).Error()
}

// EncodeWorkflow is the JSON body of an update of wf.
func EncodeWorkflow(wf *v1alpha1.Workflow) ([]byte, error) {
	wf.APIVersion = v1alpha1.SchemeGroupVersion.String()
	wf.Kind = "Workflow"
	b, err := json.Marshal(wf)
	if err != nil {
		return nil, fmt.Errorf("encode workflow %s/%s: %w", wf.Namespace, wf.Name, err)
	}
	return b, nil
}

// errStale says the informer's copy of a workflow is older than what this
// controller already wrote: handling it would waste a round and conflict.
var errStale = errors.New("stale workflow copy")

// supersededKept bounds the resourceVersions remembered per workflow. The
// informer is rarely more than a few writes behind.
const supersededKept = 32

// store implements the workflow store policies (see config.StorePolicy).
type store struct {
	policy  config.StorePolicy
	indexer cache.Indexer
	client  WorkflowClient

	mu sync.Mutex
	// superseded holds, per workflow key, the resourceVersions that this
	// controller's own successful writes replaced.
	superseded map[string][]string
	// written is the object returned by the last write (InMemory).
	written map[string]*v1alpha1.Workflow
}

func newStore(policy config.StorePolicy, indexer cache.Indexer, client WorkflowClient) *store {
	return &store{policy: policy, indexer: indexer, client: client,
		superseded: map[string][]string{}, written: map[string]*v1alpha1.Workflow{}}
}

// Get returns a private copy of the workflow to evaluate, nil if it no
// longer exists, or errStale.
func (s *store) Get(key string) (*v1alpha1.Workflow, error) {
	obj, exists, err := s.indexer.GetByKey(key)
	if err != nil {
		return nil, fmt.Errorf("get %s from informer: %w", key, err)
	}
	if !exists {
		return nil, nil
	}
	wf := obj.(*v1alpha1.Workflow)
	s.mu.Lock()
	stale := slices.Contains(s.superseded[key], wf.ResourceVersion)
	written := s.written[key]
	s.mu.Unlock()
	switch s.policy {
	case config.StoreResourceVersionCache:
		if stale {
			return nil, errStale
		}
	case config.StoreInMemory:
		if stale && written != nil {
			return written.DeepCopy(), nil
		}
	}
	return wf.DeepCopy(), nil
}

// Stale reports whether writing wf is known to conflict and, under
// ResourceVersionCache, must not be attempted.
func (s *store) Stale(wf *v1alpha1.Workflow) bool {
	if s.policy != config.StoreResourceVersionCache {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.superseded[wf.Namespace+"/"+wf.Name], wf.ResourceVersion)
}

// Update writes wf (encoded as body) and returns the stored object.
func (s *store) Update(ctx context.Context, wf *v1alpha1.Workflow, body []byte) (*v1alpha1.Workflow, error) {
	key := wf.Namespace + "/" + wf.Name
	if s.Stale(wf) {
		return nil, errStale
	}
	out, err := s.client.Update(ctx, wf, body)
	if err != nil {
		if apierrors.IsConflict(err) && s.policy == config.StoreInMemory {
			s.mu.Lock()
			delete(s.written, key)
			s.mu.Unlock()
		}
		return nil, err
	}
	// Like the informer's copies, the next round's object carries no
	// managedFields: sending them back would only grow every update.
	out.ManagedFields = nil
	s.mu.Lock()
	sup := append(s.superseded[key], wf.ResourceVersion)
	if len(sup) > supersededKept {
		sup = sup[len(sup)-supersededKept:]
	}
	s.superseded[key] = sup
	if s.policy == config.StoreInMemory {
		s.written[key] = out.DeepCopy()
	}
	s.mu.Unlock()
	return out, nil
}

// Forget drops what the store remembers of a deleted workflow.
func (s *store) Forget(key string) {
	s.mu.Lock()
	delete(s.superseded, key)
	delete(s.written, key)
	s.mu.Unlock()
}
