"""Leave this subpackage's doctests out when the optional ``spark`` extra is not installed."""

from importlib.util import find_spec

collect_ignore_glob = [] if find_spec("sqlglot") else ["*.py"]
