"""Adopting a checkpoint's network: the form's network config with the shapes the checkpoint holds."""

from __future__ import annotations

from ckptgui.modeldir.config import NetworkConfig
from ckptgui.modeldir.data import Dataset
from ckptgui.modeldir.variables import InferredNetwork


def network_from_checkpoint(
    inferred: InferredNetwork, current: NetworkConfig, dataset: Dataset | None
) -> NetworkConfig:
    """The form's network with the checkpoint's shapes (and optimizer, when its slots say which)."""
    same_classes = dataset is not None and dataset.n_classes == inferred.n_classes
    data = current.to_dict()
    data.update(
        hidden_units=list(inferred.hidden_units),
        n_classes=None if same_classes else inferred.n_classes,
        optimizer=inferred.optimizer or current.optimizer,
    )
    return NetworkConfig(**data)
