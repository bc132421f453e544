"""What the image holds besides the parts: takes the project and build facts, gives the OCI
config, /.rock/metadata.yaml and the run-user's account files."""
