"""The training pictures of a model card: curves from a Trainer's log, a confusion matrix of held-out predictions."""

import numpy as np
import pytest

from hf_han.training_plots_han import (
    MAX_CONFUSION_LABELS,
    confusion_counts,
    save_confusion_matrix,
    save_training_curves,
)


def test_confusion_counts_rows_are_true_labels_and_unlabelled_rows_are_left_out():
    counts = confusion_counts([0, 0, 1, 2, 2, -100], [0, 1, 1, 0, 2, 1], 3)
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    with pytest.raises(ValueError, match="equal 1-D shapes"):
        confusion_counts([0, 1], [0], 2)


def test_pictures_are_drawn_or_declined_with_a_reason(tmp_path):
    history = [
        {"loss": 0.7, "step": 10, "epoch": 0.5},
        {"eval_loss": 0.6, "eval_accuracy": 0.7, "eval_runtime": 1.0, "step": 20},
        {"loss": 0.4, "step": 20, "epoch": 1.0},
        {"eval_loss": 0.5, "eval_accuracy": 0.8, "step": 40},
    ]
    assert save_training_curves(history, tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert save_training_curves([{"train_runtime": 3.0}], tmp_path / "none.png") is None
    labels = np.array([0, 1, 1, 0])
    names = ["neg $x$", "pos"]  # "$" is text, not mathtext
    assert save_confusion_matrix(labels, labels, names, tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG"
    many = [f"label {i}" for i in range(MAX_CONFUSION_LABELS + 1)]
    assert save_confusion_matrix([0], [0], many, tmp_path / "many.png") is None  # unreadable as a picture
    assert save_confusion_matrix([-100], [0], names, tmp_path / "empty.png") is None
    assert not (tmp_path / "many.png").exists() and not (tmp_path / "empty.png").exists()
