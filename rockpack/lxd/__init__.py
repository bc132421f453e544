"""Clean builds in LXD instances."""
