"""An edge node's cameras from the ``vidsight.config.cameras`` topic, with hot reload.

- ``assignment``: which cameras a node runs (pure) and the plan that turns the running set
  into the desired one (start / restart / stop, pure);
- ``cache``: the last known configuration on disk, written atomically after each change;
- ``follower``: reads the compacted topic whole, then follows it (Kafka I/O), falling back to
  the cache when the broker cannot be reached at start;
- ``supervisor``: starts, restarts and stops camera workers as a plan says.
"""
