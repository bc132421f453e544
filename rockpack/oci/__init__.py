"""Native OCI, the shared core: entries, tar, compressors, layer writer and reader, blobs,
images, archives, references and the registry client. Knows no pipeline stage."""
