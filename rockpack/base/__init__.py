"""Base images: takes a base name (debian@12, ubuntu@24.04), gives the pinned, cached image,
an index of its files read from its layers, and an extracted rootfs for the overlay step."""
