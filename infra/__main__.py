"""Entry point run by `pulumi preview` and `pulumi up` (Pulumi.yaml: main: infra/)."""

from infra.program import main

main()
