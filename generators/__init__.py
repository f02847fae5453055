"""Synthetic datasets. Each module registers its datasets with ``@register_dataset``."""
