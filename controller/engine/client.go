package engine

import (
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// ClientConfigs are the controller's two client configs from restConfig:
// one client-side token bucket (qps, burst; qps <= 0 disables it) for
// every request the process makes, as with FlytePropeller's single kube
// client; writes get the request timeout, watches none (it would cut
// them). Built-in types (pods, events, leases) travel as protobuf, as
// kube-scheduler's and kube-controller-manager's clients do by default,
// which is cheaper to encode and decode than JSON on both ends (Workflows
// stay JSON: CRDs have no protobuf encoding; NewWorkflowClient sets
// that). benchctl
// calibrate measures the cluster through the same.
func ClientConfigs(restConfig *rest.Config, qps float32, burst int, timeout time.Duration, userAgent string) (write, watch *rest.Config) {
	write = rest.CopyConfig(restConfig)
	write.QPS, write.Burst, write.Timeout = qps, burst, timeout
	write.UserAgent = userAgent
	write.ContentType = runtime.ContentTypeProtobuf
	write.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	if qps > 0 {
		write.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(qps, burst)
	} else {
		write.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter()
	}
	watch = rest.CopyConfig(write)
	watch.Timeout = 0
	return write, watch
}
