"""modelrail: gate every stage of a model repo on data quality."""

__version__ = "0.1.0"
