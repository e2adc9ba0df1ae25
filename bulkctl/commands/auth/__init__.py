"""``bulkctl auth``: log in, see where credentials come from, log out, print the token."""
