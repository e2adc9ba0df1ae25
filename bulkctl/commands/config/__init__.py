"""``bulkctl config``: read and change profile settings, and find the file."""
