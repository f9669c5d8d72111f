"""The forms' synthetic data against the real CouchDB-compatible server."""
