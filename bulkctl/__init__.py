"""bulkctl: watch and manage Weavr bulk processes."""

__version__ = "0.1.0"
