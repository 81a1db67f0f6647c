// Package flyte speaks Flyte Admin's HTTP/JSON API (grpc-gateway) for the
// Flyte engine of issue P11: launch-plan executions, their node and task
// executions, GetExecutionMetrics' span tree, and the three ways to
// authenticate (none, a bearer token file, OAuth2 client credentials
// discovered as flytectl discovers them).
//
// Flyte's Go modules cannot be fetched here, so the wire types are written
// from flyteidl's admin.swagger.json: only the fields benchctl reads.
// BreakdownOf maps GetExecutionMetrics onto the report's breakdown. The
// flyte engine (package flyteengine) drives executions with it, the
// collector (collect.Flyte) stores what Admin recorded, and the aggregate
// package measures that.
package flyte
