"""The studio: a local web page over the engine, for exploring variants with live feedback.

``eigenstyle serve`` runs :func:`eigenstyle.studio.app.create_app` on uvicorn.
The pieces, by concern:

* ``store``   the workspace: SQLite (results, recipes, lineage, stars, timings) and image files
* ``uploads`` bounded, re-encoded input images under generated names
* ``jobs``    the bounded job queue, one worker thread per device, and the event broadcast
* ``runner``  what a worker does with a job, through the engine/explore API
* ``app``     the HTTP routes (Starlette) and server-sent events
* ``guard``   the front door: Host allowlist, same-origin checks, the launch's token, security headers
* ``static/`` the one page (plain HTML/CSS/JS, no build step)
"""
