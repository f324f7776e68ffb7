"""``python -m sinks``: the sinks' commands on their own."""

from sinks.cli import standalone

standalone(prog_name="python -m sinks")
