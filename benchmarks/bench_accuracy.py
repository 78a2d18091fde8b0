"""
Test accuracy on the fixed IMDB split (examples/offline_datasets.py): a TF-IDF (unigram + bigram) logistic
regression baseline and HAN at the paper's settings, trained on this machine's CPU in the same run.

    pip install gensim scikit-learn   # gensim only for --train_word_vectors
    python benchmarks/bench_accuracy.py [--epochs 5] [--train_word_vectors] [--output_dir outputs/bench-accuracy]

The baseline's regularisation C is chosen on the validation split; HAN's best epoch is chosen on the validation
split; both are scored once on the 24,581 test reviews. Results go to `<output_dir>/accuracy.json`.
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import transformers


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))  # offline_datasets.py
from offline_datasets import prepare_imdb_splits, read_split  # noqa: E402


ROOT = Path(__file__).resolve().parents[1]


def tfidf_baseline(paths: dict) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    (train_x, train_y), (dev_x, dev_y), (test_x, test_y) = (
        read_split(paths[s]) for s in ("train", "validation", "test")
    )
    start = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_df=0.95, sublinear_tf=True, lowercase=True)
    train_features = vectorizer.fit_transform(train_x)
    dev_features, test_features = vectorizer.transform(dev_x), vectorizer.transform(test_x)
    best = None
    for c in (1.0, 4.0, 16.0, 64.0):
        classifier = LogisticRegression(C=c, max_iter=2000, solver="liblinear").fit(train_features, train_y)
        accuracy = float(np.mean(classifier.predict(dev_features) == np.array(dev_y)))
        print(f"  TF-IDF LR C={c:g}: validation accuracy {accuracy:.4f}", flush=True)
        if best is None or accuracy > best[0]:
            best = (accuracy, c, classifier)
    test_accuracy = float(np.mean(best[2].predict(test_features) == np.array(test_y)))
    return {
        "model": "TF-IDF (1-2 grams) + logistic regression",
        "C": best[1],
        "features": train_features.shape[1],
        "validation_accuracy": best[0],
        "test_accuracy": test_accuracy,
        "seconds": time.perf_counter() - start,
    }


def han(paths: dict, args) -> dict:
    sys.path.insert(0, str(ROOT / "examples"))
    import run_classification

    output_dir = Path(args.output_dir) / "han"
    argv = [
        "--train_file", str(paths["train"]), "--validation_file", str(paths["validation"]),
        "--test_file", str(paths["test"]), "--output_dir", str(output_dir),
        "--do_train", "--do_eval", "--do_predict",
        "--num_train_epochs", str(args.epochs), "--learning_rate", str(args.learning_rate),
        "--early_stopping_patience", "2", "--save_total_limit", "1",
        "--hidden_dropout", str(args.dropout), "--classifier_dropout", str(args.dropout),
        "--seed", str(args.seed), "--disable_tqdm", "true", "--dataloader_pin_memory", "false",
    ]  # fmt: skip
    if args.train_word_vectors:
        argv += ["--train_word_vectors", "--word_vectors_epochs", str(args.word_vectors_epochs)]
    start = time.perf_counter()
    results = run_classification.main(argv)
    state = json.loads((output_dir / "trainer_state.json").read_text())
    evaluations = [entry for entry in state["log_history"] if "eval_accuracy" in entry]
    return {
        "model": "HAN (paper settings: emb 200, GRU 50x2, attention 100, batch 64)"
        + (", skip-gram initialised" if args.train_word_vectors else ""),
        "epochs_run": state["epoch"],
        "best_validation_accuracy": max(entry["eval_accuracy"] for entry in evaluations),
        "validation_by_epoch": [round(entry["eval_accuracy"], 4) for entry in evaluations],
        "test_accuracy": results["test_accuracy"],
        "test_macro_f1": results["test_macro_f1"],
        "train_seconds": results["train_runtime"],
        "seconds_per_epoch": results["train_runtime"] / state["epoch"],
        "train_docs_per_second": results["train_samples_per_second"],
        "total_seconds": time.perf_counter() - start,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=float, default=5)
    parser.add_argument("--learning_rate", type=float, default=2e-3)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--train_word_vectors", action="store_true")
    parser.add_argument("--word_vectors_epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip_baseline", action="store_true")
    parser.add_argument("--output_dir", default="outputs/bench-accuracy")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, transformers {transformers.__version__}", flush=True)  # fmt: skip

    paths = prepare_imdb_splits()
    results = {"command": " ".join(sys.argv), "split": {k: str(v) for k, v in paths.items()}}
    if not args.skip_baseline:
        results["baseline"] = tfidf_baseline(paths)
        print(json.dumps(results["baseline"], indent=2), flush=True)
    results["han"] = han(paths, args)
    print(json.dumps(results["han"], indent=2), flush=True)
    if "baseline" in results:
        margin = results["han"]["test_accuracy"] - results["baseline"]["test_accuracy"]
        print(f"HAN - baseline: {100 * margin:+.2f} points of test accuracy", flush=True)
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.output_dir) / "accuracy.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
