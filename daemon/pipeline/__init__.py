"""The inference pipeline: observations in, evidence-backed propositions out (DESIGN.md, "Pipeline").

Each step is a module named for it; the steps take and return the
`memory/types.py` models, so each can be tested alone.

- ingest: a JSONL file of observations, through the privacy filter, onto the queue
- queue: the driver; pending observations → segments → screen → model steps → one commit per segment
- segment: contiguous observations of one activity, repeated lines dropped, under a token cap
- screen: adverts, spam, promotional mail and news the user merely saw are kept from proposing
- propose: one segment to draft propositions, with one worked example; bad drafts dropped with a reason
- revise: each draft against related stored propositions: identical, refines, contradicts or unrelated
- audit: sensitive drafts get a contextual-integrity check before they are stored
- run: the model steps composed into the queue's step (`Pipeline.step`), and a pass (`process`): `tacit process`
- confidence: a claim's confidence from the sessions and days that support it
- stats: propositions measured from observations without a model
- quarantine: failed segments wait with their error and raw output; retry with backoff, at most N tries
- activity: shared vocabulary (app kinds, title families, sites, projects and files in paths)

The persisted states live in the store (`memory/queue.py`).
"""
