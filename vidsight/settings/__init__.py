"""Settings: one frozen model per process kind, from ``VIDSIGHT_*`` env vars and a TOML file.

Every process kind (edge, processor, sinks, ...) has a settings class that names its section
(``section: ClassVar[str] = "sinks"``). What all processes share (the endpoints, each store's
connection) sits at the top level of the TOML file (or inside a ``[vidsight]`` table) and in
``VIDSIGHT_<FIELD>``; a process's own keys sit in its table (``[sinks]``) and in
``VIDSIGHT_<SECTION>_<FIELD>`` (``VIDSIGHT_SINKS_METRICS_PORT``; a field already named after its
section keeps its name: ``VIDSIGHT_REGISTRY_PORT``). A process reads the shared keys and its own
tables; the tables of other processes are not its business. A class that extends another process
kind's class reads that kind's table first (the ETL reads ``[sinks]``, then ``[etl]``).

Before sections existed the file was flat: a process's own key at the top level (or its
unprefixed env name) is still taken by the process that declares it, with a deprecation warning
naming where it belongs now, and ignored by the others. A key that no process kind declares, or
an unknown key in a process's own table, is refused with its name and what is allowed.

Precedence (highest first): explicit keyword arguments, environment variables, the TOML file
named by ``VIDSIGHT_CONFIG`` (or passed as ``config_file``), the secrets a local stack
generated (``<data_dir>/secrets/<field>``, 0600 files), the endpoints file it wrote
(``<data_dir>/stack.json``, which holds no secret), then the built-in loopback defaults.
Nothing is read at import time: callers build settings in ``main()`` with :func:`load`.
"""

# The registries (and the warned-once set) stay reachable here: tools and tests read and reset them.
from vidsight.settings.base import (
    _PROCESS_CLASSES as _PROCESS_CLASSES,
)
from vidsight.settings.base import (
    _SHARED_MODELS as _SHARED_MODELS,
)
from vidsight.settings.base import (
    DEFAULT_DATA_DIR,
    ENV_PREFIX,
    PROCESS_KINDS,
    ROOT_TABLE,
    SECRETS_DIR,
    STACK_FILE,
    Endpoints,
    MetricsSettings,
    SharedSettings,
    check_http_url,
    env_names,
    is_loopback,
    own_fields,
    process_sections,
    sections_of,
    shared_fields,
)
from vidsight.settings.base import (
    _warned as _warned,
)
from vidsight.settings.loading import format_validation_error, load
from vidsight.settings.sources import file_values, read_secrets

__all__ = [
    "DEFAULT_DATA_DIR",
    "ENV_PREFIX",
    "PROCESS_KINDS",
    "ROOT_TABLE",
    "SECRETS_DIR",
    "STACK_FILE",
    "Endpoints",
    "MetricsSettings",
    "SharedSettings",
    "check_http_url",
    "env_names",
    "file_values",
    "format_validation_error",
    "is_loopback",
    "load",
    "own_fields",
    "process_sections",
    "read_secrets",
    "sections_of",
    "shared_fields",
]
