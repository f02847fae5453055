"""Clustering methods, one file each, registered with ``@register_method``. See ``_template.py``."""
