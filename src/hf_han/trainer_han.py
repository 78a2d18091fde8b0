"""A `Trainer` that fills the HAN model card while it trains (through a callback) and writes it."""

import logging
import os

import numpy as np
from torch.utils.data import DataLoader, SequentialSampler
from transformers import Trainer, TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.trainer_utils import has_length
from transformers.utils import is_datasets_available

from .explanation_han import Explanation
from .modelcard_han import HANModelCardData
from .streaming_han import HANDocumentStream


logger = logging.getLogger(__name__)

TRAINING_CURVES, CONFUSION_MATRIX = "training_curves.png", "confusion_matrix.png"
# Hyperparameters worth showing, from `TrainingArguments`.
TRAINING_ARGUMENTS_SHOWN = (
    "learning_rate",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "num_train_epochs",
    "max_steps",
    "weight_decay",
    "warmup_steps",
    "lr_scheduler_type",
    "optim",
    "seed",
    "train_sampling_strategy",
)


class HANModelCardCallback(TrainerCallback):
    """
    Fills the model's `model_card_data` while a `Trainer` runs: hyperparameters (those of `TrainingArguments` worth
    showing, and `extra_hyperparameters`), evaluations, sample counts.
    """

    def __init__(self, extra_hyperparameters: dict | None = None):
        self.extra_hyperparameters = dict(extra_hyperparameters or {})

    def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):
        card_data = _card_data_of(model)
        if card_data is None:
            return
        card_data.hyperparameters = {
            name: getattr(args, name) for name in TRAINING_ARGUMENTS_SHOWN if getattr(args, name, None) is not None
        }
        card_data.hyperparameters["train_batch_size (all devices)"] = args.train_batch_size * args.world_size
        card_data.hyperparameters.update(self.extra_hyperparameters)
        card_data.hyperparameters = {
            name: (value.value if hasattr(value, "value") else value)
            for name, value in card_data.hyperparameters.items()
        }
        if train_dataloader is not None and has_length(getattr(train_dataloader, "dataset", None)):
            card_data.train_samples = len(train_dataloader.dataset)

    def on_train_end(self, args, state, control, model=None, train_dataloader=None, **kwargs):
        card_data = _card_data_of(model)
        if card_data is None or train_dataloader is None:
            return
        if not has_length(getattr(train_dataloader, "dataset", None)):  # a stream: the documents that were read
            per_step = args.per_device_train_batch_size * args.world_size * args.gradient_accumulation_steps
            card_data.train_samples = state.global_step * per_step

    def on_evaluate(self, args, state, control, model=None, metrics=None, **kwargs):
        card_data = _card_data_of(model)
        if card_data is None or not metrics:
            return
        split = _split_of(metrics)
        values = {
            key.split("_", 1)[1]: float(value)
            for key, value in metrics.items()
            if key.startswith(f"{split}_") and isinstance(value, (int, float)) and not _is_runtime(key)
        }
        last_step = card_data.training_log[-1]["step"] if card_data.training_log else None
        if (
            state.is_world_process_zero
            and state.epoch is not None
            and split == "eval"
            and last_step != state.global_step
        ):
            row = {"epoch": round(state.epoch, 2), "step": state.global_step}
            train_losses = [entry["loss"] for entry in state.log_history if "loss" in entry]
            if train_losses:
                row["training loss"] = round(train_losses[-1], 4)
            row.update({f"validation {name}": round(value, 4) for name, value in values.items()})
            card_data.training_log.append(row)
        values.pop("loss", None)  # shown in the training log; not a result worth a place in the model index
        card_data.eval_results["validation" if split == "eval" else split] = values


def _card_data_of(model) -> HANModelCardData | None:
    model = getattr(model, "module", model)  # DDP wrapper
    return getattr(model, "model_card_data", None)


def _split_of(metrics: dict) -> str:
    return next(iter(metrics)).split("_", 1)[0]


def _is_runtime(key: str) -> bool:
    return key.endswith(("_runtime", "_samples_per_second", "_steps_per_second", "_model_preparation_time"))


class HANTrainer(Trainer):
    """
    [`~transformers.Trainer`] for HAN models. Training works exactly as with `Trainer`; in addition the model's
    `model_card_data` is filled during training (hyperparameters, evaluations) and `create_model_card`, which
    `push_to_hub` calls, writes the HAN model card instead of the generic one. When
    `model.model_card_data.example_text` is set, the card shows the model's attention on it.

    Args:
        word_encoder_learning_rate (`float`, *optional*): the peak learning rate of a pretrained word encoder
            (`HANConfig(word_encoder="pretrained")`), which fine-tunes best far below what HAN's own layers take
            (`args.learning_rate`); both follow the same schedule. By default everything trains at
            `args.learning_rate`.
        args, kwargs: as for [`~transformers.Trainer`].

    Evaluation and `predict` read a dataset in its order, also when training batches are grouped by length
    (`train_sampling_strategy="group_by_length"`), so that `predict`'s rows are the dataset's rows.
    """

    def __init__(self, *args, word_encoder_learning_rate: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if word_encoder_learning_rate is not None and not word_encoder_learning_rate > 0:
            raise ValueError(f"`word_encoder_learning_rate` must be positive, got {word_encoder_learning_rate!r}.")
        self.word_encoder_learning_rate = word_encoder_learning_rate
        extra = (
            {} if word_encoder_learning_rate is None else {"word_encoder_learning_rate": word_encoder_learning_rate}
        )
        self.add_callback(HANModelCardCallback(extra))
        # the last held-out predictions of the trained model, by split: (true ids, predicted ids), for the card
        self._confusion: dict[str, tuple] = {}

    def evaluation_loop(
        self, dataloader, description, prediction_loss_only=None, ignore_keys=None, metric_key_prefix="eval"
    ):
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix)
        # a single-label classifier's predictions once training is over: its confusion matrix goes into the card
        config = getattr(self.accelerator.unwrap_model(self.model), "config", None)
        logits, labels = output.predictions, output.label_ids
        if (
            not self.is_in_train
            and config is not None
            and config.problem_type == "single_label_classification"
            and isinstance(logits, np.ndarray)
            and isinstance(labels, np.ndarray)
            and logits.ndim == 2
            and labels.ndim == 1
        ):
            split = "validation" if metric_key_prefix == "eval" else metric_key_prefix
            self._confusion[split] = (labels, logits.argmax(-1))
        return output

    def _get_train_sampler(self, train_dataset=None):
        # `Trainer` drops the columns the model does not take before it builds the sampler, the length column with
        # them, and then reads every document to measure it: 26 s before the first step at 1M documents, and all
        # their token ids paged in (1.5 GB). The lengths come from the column of the dataset as given (the same rows
        # in the same order), read once as a list.
        name = self.args.length_column_name
        if self.args.train_sampling_strategy == "group_by_length" and is_datasets_available():
            from datasets import Dataset

            given = self.train_dataset
            dataset = given if train_dataset is None else train_dataset
            if isinstance(given, Dataset) and name in given.column_names and len(given) == len(dataset):
                lengths = given.select_columns([name]).with_format("arrow")[:][name].to_pylist()
                batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
                return LengthGroupedSampler(batch, lengths=lengths)
        return super()._get_train_sampler(train_dataset)

    def get_train_dataloader(self):
        """As `Trainer` does; a `HANDocumentStream` is read by each process as it is (its own part of the stream)."""
        stream = self.train_dataset
        if not isinstance(stream, HANDocumentStream):
            return super().get_train_dataloader()
        from accelerate.data_loader import prepare_data_loader

        expected = (self.args.process_index, self.args.world_size, self._train_batch_size)
        if (stream.process_index, stream.num_processes, stream.batch_size) != expected:
            raise ValueError(
                f"The training stream is process {stream.process_index}'s of {stream.num_processes} in batches of "
                f"{stream.batch_size}; this process is {expected[0]} of {expected[1]} in batches of {expected[2]}. "
                "Build it with process_index=args.process_index, num_processes=args.world_size and "
                "batch_size=args.per_device_train_batch_size."
            )
        logger.info(
            f"Process {stream.process_index} of {stream.num_processes} reads its own part of the training stream "
            f"({stream.part})"
        )
        loader = DataLoader(
            stream,
            batch_size=self._train_batch_size,
            collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory and self.args.device.type == "cuda",
            persistent_workers=self.args.dataloader_persistent_workers and self.args.dataloader_num_workers > 0,
            # a worker tokenizes a whole buffer at once: it may run a buffer ahead, so that training never waits
            prefetch_factor=(
                self.args.dataloader_prefetch_factor or stream.buffer_size // stream.batch_size
                if self.args.dataloader_num_workers > 0
                else None
            ),
        )
        # accelerate would read a stream in the main process and send each process its share (or make every
        # process read and tokenize all of it): this one is already the process's own, so it is only moved to the
        # device
        return prepare_data_loader(
            loader,
            device=self.args.device,
            num_processes=1,
            process_index=0,
            put_on_device=True,
            dispatch_batches=False,
            non_blocking=self.args.accelerator_config.non_blocking,
        )

    def _get_eval_sampler(self, eval_dataset):
        # `Trainer` reads evaluation batches grouped by length when training is grouped (HAN's examples train so),
        # and `predict` then returns its rows in that order, not the dataset's: a caller who pairs them with the
        # documents pairs them wrongly. Metrics do not depend on the order, so evaluation reads in order.
        if eval_dataset is None or not has_length(eval_dataset):
            return None
        return SequentialSampler(eval_dataset) if self.args.world_size <= 1 else None  # None: accelerate shards

    def create_optimizer(self, model=None):
        """As `Trainer` does, with the pretrained word encoder's parameters in groups of their own learning rate."""
        if self.word_encoder_learning_rate is None or self.optimizer is not None:
            return super().create_optimizer(model)
        model = self.model if model is None else model
        word_encoder = getattr(getattr(model, "base_model", model), "word_encoder", None)
        if word_encoder is None or not hasattr(word_encoder, "encoder"):
            raise ValueError(
                "`word_encoder_learning_rate` applies to a HAN with a pretrained word encoder "
                "(HANForDocumentClassification.from_word_encoder); this model has none."
            )
        in_encoder = {id(parameter) for parameter in word_encoder.parameters()}
        decayed = set(self.get_decay_parameter_names(model))
        groups = []
        for encoder, learning_rate in ((False, self.args.learning_rate), (True, self.word_encoder_learning_rate)):
            for decay in (True, False):
                parameters = [
                    parameter
                    for name, parameter in model.named_parameters()
                    if parameter.requires_grad
                    and (id(parameter) in in_encoder) == encoder
                    and (name in decayed) == decay
                ]
                if parameters:
                    weight_decay = self.args.weight_decay if decay else 0.0
                    groups.append({"params": parameters, "weight_decay": weight_decay, "lr": learning_rate})
        optimizer_class, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
        self.optimizer = optimizer_class(groups, **optimizer_kwargs)
        return self.optimizer

    def create_model_card(
        self,
        language: str | None = None,
        license: str | None = None,
        tags: str | list[str] | None = None,
        model_name: str | None = None,
        dataset: str | list[str] | None = None,
        **kwargs,
    ) -> None:
        """Write the HAN model card to `args.output_dir/README.md`; arguments as in `Trainer.create_model_card`."""
        if not self.is_world_process_zero():
            return
        model = self.accelerator.unwrap_model(self.model)
        card_data = model.model_card_data
        if self.hub_model_id is not None:
            card_data.model_id = self.hub_model_id
        card_data.model_name = model_name or card_data.model_name
        card_data.language = language or card_data.language
        card_data.license = license or card_data.license
        for tag in [tags] if isinstance(tags, str) else tags or []:
            if tag not in card_data.tags:
                card_data.tags.append(tag)
        if dataset and not card_data.dataset_name:
            card_data.dataset_name = dataset if isinstance(dataset, str) else ", ".join(dataset)
        os.makedirs(self.args.output_dir, exist_ok=True)
        if card_data.example_text and not card_data.attention_text and self.processing_class is not None:
            self._explain_example(model, card_data)
        self._draw_training_pictures(model, card_data)
        model.save_model_card(self.args.output_dir)

    def _draw_training_pictures(self, model, card_data) -> None:
        """`training_curves.png` from the log, and `confusion_matrix.png` of the test (else validation) split."""
        from .training_plots_han import save_confusion_matrix, save_training_curves

        try:
            path = os.path.join(self.args.output_dir, TRAINING_CURVES)
            if save_training_curves(self.state.log_history, path):
                card_data.training_curves_picture = TRAINING_CURVES
            split = next((split for split in ("test", "validation") if split in self._confusion), None)
            if split is not None:
                names = [model.config.id2label[i] for i in range(model.config.num_labels)]
                path = os.path.join(self.args.output_dir, CONFUSION_MATRIX)
                if save_confusion_matrix(*self._confusion[split], names, path, split=split):
                    card_data.confusion_matrix_picture = CONFUSION_MATRIX
                    card_data.confusion_matrix_split = split
        except ImportError:  # matplotlib is optional; the card keeps its tables
            pass

    def _explain_example(self, model, card_data) -> None:
        """The model's attention on `card_data.example_text`, as Markdown and (with matplotlib) a PNG."""
        from .pipeline_han import DocumentClassificationPipeline
        from .visualization_han import attention_to_markdown, save_attention_png

        was_training = model.training
        model.eval()
        try:
            explainer = DocumentClassificationPipeline(model=model, tokenizer=self.processing_class)
            explanation: Explanation = explainer(card_data.example_text, explain=True)[0]
        finally:
            model.train(was_training)
        card_data.attention_text = attention_to_markdown(explanation)
        try:
            save_attention_png(explanation, os.path.join(self.args.output_dir, "attention.png"))
            card_data.attention_picture = "attention.png"
        except ImportError:  # matplotlib is optional; the Markdown rendering is in the card either way
            pass


__all__ = ["HANModelCardCallback", "HANTrainer"]
