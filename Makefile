# Convenience wrappers; the scripts work without make on a machine with only python3.
.PHONY: demo test bench clean
demo:
	./scripts/demo
test:
	./scripts/test
bench:
	./scripts/bootstrap.sh dev && ./scripts/system-deps.sh --broker-only
	.venv/bin/python bench/decoders.py
	.venv/bin/python bench/latency.py
clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
