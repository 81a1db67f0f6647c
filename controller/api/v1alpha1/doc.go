// Package v1alpha1 holds the Workflow API of the bundled controller: the CRD
// types, the pod contract shared with the local cluster's KWOK stages and
// with benchtask, and the deterministic expansion of dynamic nodes.
//
// +kubebuilder:object:generate=true
// +groupName=flow.benchctl.dev
package v1alpha1
