"""The registry's API: sites, edges, buildings and units, households, residents, users and
the CSV import."""
