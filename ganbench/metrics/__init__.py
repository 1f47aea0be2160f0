"""Sample-quality metrics: pure math on features (FID, KID, IS) and the feature extractors."""

from ganbench.metrics.classifier import FeatureCNN, evaluate_accuracy, train_classifier
from ganbench.metrics.features import (
    FEATURE_EXTRACTORS,
    ClassifierExtractor,
    FeatureExtractor,
    build_extractor,
    load_classifier,
    save_classifier,
)
from ganbench.metrics.fid import feature_statistics, frechet_distance
from ganbench.metrics.inception_score import inception_score, inception_score_from_probs
from ganbench.metrics.kid import kernel_inception_distance, mmd2_unbiased, polynomial_kernel
from ganbench.metrics.stats import RunningStats

__all__ = [
    "FEATURE_EXTRACTORS",
    "ClassifierExtractor",
    "FeatureCNN",
    "FeatureExtractor",
    "RunningStats",
    "build_extractor",
    "evaluate_accuracy",
    "feature_statistics",
    "frechet_distance",
    "inception_score",
    "inception_score_from_probs",
    "kernel_inception_distance",
    "load_classifier",
    "mmd2_unbiased",
    "polynomial_kernel",
    "save_classifier",
    "train_classifier",
]
