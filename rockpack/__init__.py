"""rockpack: a declarative part packager that writes OCI images (rocks)."""

__version__ = "0.1.0"
