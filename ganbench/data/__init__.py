"""Datasets: raw files -> validated uint8 arrays (the prepared-data contract) and back."""

from ganbench.data.idx import read_idx
from ganbench.data.prepared import PreparedData, load_prepared, save_prepared
from ganbench.data.sources import DATASETS, DatasetSource

__all__ = [
    "DATASETS",
    "DatasetSource",
    "PreparedData",
    "load_prepared",
    "read_idx",
    "save_prepared",
]
