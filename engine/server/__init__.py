"""The engine as an HTTP server: the Blender add-on and pipeline tools drive sessions and jobs
through it, so Blender never loads a model or waits on a long computation.

One module per concern: `security` (who may connect, which files may be touched, size limits),
`state` (sessions and their clips, persisted in the state folder), `jobs` (the worker that runs
track/remove one at a time and the events it emits), `uploads` (clips sent by remote clients),
`masks` (mask encodings on the wire), `app` (the FastAPI routes) and `cli` (`vta-engine serve`).
"""
