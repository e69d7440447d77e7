"""Door readers' vocabulary at the hub: residents' PINs, the site's card format, and the keys
readers took at their edges (kept sealed)."""
