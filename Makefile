# The kit's commands. Each sets up what it needs by itself (scripts/setup).
.DEFAULT_GOAL := help
SHELL := /bin/bash

.PHONY: help setup test lint app-test molecule demo demo-destroy bench bench-cluster drills clean

help: ## Show the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  make %-14s %s\n", $$1, $$2 }'

setup: ## Install what the tests and the sandbox need (venv, Docker engine, base images, offline sources)
	scripts/setup

test: ## Run every test: linters, syntax checks, app and controller tests, all Molecule scenarios
	scripts/test

lint: ## Run yamllint, ansible-lint (production profile) and shellcheck only
	scripts/test lint syntax

app-test: ## Run the app's ruff and pytest suite only
	scripts/test app

molecule: ## Run one Molecule scenario: make molecule SCENARIO=default
	scripts/test molecule:$(or $(SCENARIO),default)

demo: ## Start the local sandbox server and provision it with playbooks/site.yml over SSH
	scripts/demo

demo-destroy: ## Remove the sandbox server
	scripts/demo --destroy

bench: ## Measure the sandbox's stack against its own ceiling, then past one server (bench-cluster), into bench/results (BENCH_COLD=1: CPython compiled too)
	scripts/bench

bench-cluster: ## Two app servers behind the load balancer against one, PostgreSQL against SQLite (molecule/cluster's containers)
	scripts/bench-cluster

drills: ## Deploys, renewal, crashes and a restart under load on the sandbox; fails if a target is missed
	scripts/drills

clean: ## Remove the virtualenvs and the sandbox (the image and source cache stays)
	-scripts/demo --destroy
	rm -rf .venv app/.venv .cache
