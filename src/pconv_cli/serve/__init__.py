"""`pconv serve`: the HTTP API and its painting page."""
