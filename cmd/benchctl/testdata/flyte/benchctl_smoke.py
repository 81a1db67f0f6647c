"""benchctl's Flyte smoke workflows: no-op tasks in a chain and side by side.

Package and register them for `benchctl run --engine flyte`:

    pyflyte --pkgs benchctl_smoke package --image IMAGE -o pkg/benchctl_smoke.tgz
    benchctl run --engine flyte --flyte-endpoint URL --register pkg \
        --portfolio cmd/benchctl/testdata/flyte/smoke.yaml

Each workflow's default launch plan has the workflow's name.
"""

from flytekit import task, workflow


@task
def noop(i: int) -> int:
    return i + 1


@workflow
def chain3(n: int) -> int:
    a = noop(i=n)
    b = noop(i=a)
    return noop(i=b)


@workflow
def fanout3(n: int) -> int:
    noop(i=n)
    noop(i=n)
    return noop(i=n)
