"""A toy text classifier package."""

from .models import Regressor, build_classifier, build_regressor

__all__ = ["Regressor", "build_classifier", "build_regressor"]
