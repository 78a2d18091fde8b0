"""A `Trainer` that fills and writes the HAN model card."""

import os

from transformers import Trainer

from .modelcard_han import HANModelCardCallback


class HANTrainer(Trainer):
    """
    [`~transformers.Trainer`] for HAN models. Training works exactly as with `Trainer`; in addition the model's
    `model_card_data` is filled during training (hyperparameters, evaluations) and `create_model_card`, which
    `push_to_hub` calls, writes the HAN model card instead of the generic one.
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
        model.save_model_card(self.args.output_dir)
