# Shortcuts; each target is one script or one command, so nothing here is hidden.
.PHONY: up down preview check render test bench docs settings-doc policies-doc

up:            ## bring up the dev stack on local Docker (needs the Pulumi CLI and Docker)
	scripts/dev-up

down:          ## destroy the dev stack (needs the Pulumi CLI and Docker)
	scripts/needs pulumi docker-engine
	PULUMI_BACKEND_URL="$${PULUMI_BACKEND_URL:-file://$$HOME/.pulumi-local}" PULUMI_CONFIG_PASSPHRASE="$${PULUMI_CONFIG_PASSPHRASE-}" pulumi destroy --stack dev --yes

preview:       ## preview the dev stack (needs the Pulumi CLI and Docker)
	scripts/needs pulumi docker-engine
	PULUMI_BACKEND_URL="$${PULUMI_BACKEND_URL:-file://$$HOME/.pulumi-local}" PULUMI_CONFIG_PASSPHRASE="$${PULUMI_CONFIG_PASSPHRASE-}" pulumi preview --stack dev

check:         ## offline render and check of the dev and prod stacks (no Pulumi CLI needed)
	scripts/bootstrap
	uv run --frozen --no-sync prodstack check --stack dev
	uv run --frozen --no-sync prodstack check --stack prod

render:        ## write rendered/<stack>/ for dev and prod
	scripts/bootstrap
	uv run --frozen --no-sync prodstack render --stack dev
	uv run --frozen --no-sync prodstack render --stack prod

test:          ## the whole test suite, installing what it needs
	scripts/test

bench:         ## benchmarks; each prints its figures
	scripts/bootstrap
	uv run --frozen --no-sync python bench/check_time.py
	uv run --frozen --no-sync python bench/policy_pack.py
	uv run --frozen --no-sync python bench/backup_restore.py
	uv run --frozen --no-sync python bench/edge_throughput.py
	scripts/needs docker-engine
	uv run --frozen --no-sync python bench/stack_up.py


docs:          ## regenerate every generated document
docs: settings-doc policies-doc

settings-doc:  ## regenerate docs/settings.md
	uv run --frozen --no-sync prodstack settings-doc

policies-doc:  ## regenerate docs/policies.md and policies/config/*.json
	uv run --frozen --no-sync prodstack policies-doc
