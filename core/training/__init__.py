"""Training: one config dataclass per run (:mod:`.config`), samplers, losses, the shared
loop (:mod:`.loop`), one trainer per family, named presets and the ``train`` command.

Entry point: :func:`core.training.runner.train_model`.
"""
