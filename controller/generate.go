// Package controller is the bundled workflow controller, the system under
// test. The Workflow API and its generated code live in api/v1alpha1.
package controller

//go:generate go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0 object paths=./api/... crd:crdVersions=v1 output:crd:artifacts:config=chart/crds
