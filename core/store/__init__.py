"""The library's store: the session dir, content-addressed blobs, manifests, atomic writes,
locks, gc, verify, the catalog and retention. Formats are documented in the module that owns each."""
