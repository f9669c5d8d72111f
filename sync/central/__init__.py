"""ODK Central as a source of submissions, and township replicas of Cradle's CouchDB.

`client` is the only module that talks to Central; `rows` reads its OData rows, `upsert`
decides what each row does to Cradle's documents, `checkpoint` says where a pull
resumes, `lock` and `runs` keep runs single and recorded, `pull` runs a sync, `cli` is
`cradle sync` / `cradle replicate`; `replicate` sets up CouchDB's own replication for a
supervisor's townships and `conflicts` resolves what it brings.
"""
