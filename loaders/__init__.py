"""Real datasets and user data formats. Each module registers its datasets with ``@register_dataset``."""
