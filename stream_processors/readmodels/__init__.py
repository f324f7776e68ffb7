"""Live read models on faust-streaming over the lower-rate topics, queryable over HTTP.

The table logic is pure (``occupancy``, ``crossings``, ``open_alerts``, ``verdicts``: plain
functions over typed records and frozen state, no faust); ``app.create_app`` wires it into a
faust app, ``runner.run_worker`` runs a worker and ``cli.readmodels_group`` is
``vidsight readmodels``. Importing this package imports no faust.
"""
