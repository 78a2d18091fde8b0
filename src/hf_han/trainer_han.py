"""A `Trainer` that fills and writes the HAN model card."""

import os

from transformers import Trainer

from .modelcard_han import HANModelCardCallback


class HANTrainer(Trainer):
    """
    [`~transformers.Trainer`] for HAN models. Training works exactly as with `Trainer`; in addition the model's
    `model_card_data` is filled during training (hyperparameters, evaluations) and `create_model_card`, which
    `push_to_hub` calls, writes the HAN model card instead of the generic one. When
    `model.model_card_data.example_text` is set, the card shows the model's attention on it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_callback(HANModelCardCallback())

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
        model.save_model_card(self.args.output_dir)

    def _explain_example(self, model, card_data) -> None:
        """The model's attention on `card_data.example_text`, as Markdown and (with matplotlib) a PNG."""
        from .pipeline_han import DocumentClassificationPipeline
        from .visualization_han import attention_to_markdown, save_attention_png

        was_training = model.training
        model.eval()
        try:
            explainer = DocumentClassificationPipeline(model=model, tokenizer=self.processing_class)
            explanation = explainer(card_data.example_text, explain=True)[0]
        finally:
            model.train(was_training)
        card_data.attention_text = attention_to_markdown(explanation)
        try:
            save_attention_png(explanation, os.path.join(self.args.output_dir, "attention.png"))
            card_data.attention_picture = "attention.png"
        except ImportError:  # matplotlib is optional; the Markdown rendering is in the card either way
            pass
