# One place for the project's routine commands. On a CPU machine torch comes from its CPU wheel first.
.PHONY: install test demo bench

install:
	python3 -m pip install torch==2.13.0
	python3 -m pip install -e ".[dev]"

test:
	python3 -m pytest tests -m "not slow" -q

demo:
	python3 examples/quickstart.py

bench:
	python3 benchmarks/bench_model.py
	python3 benchmarks/bench_tokenizer.py
