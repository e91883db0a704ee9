"""Letta's Agent File (``.af``): importing the agents people keep there, and exporting memgpt agents to it.

:func:`import_agent_file` reads the current format and Letta 0.6's single-agent one (also when the JSON is
inside a JSON string), maps what has a meaning in memgpt and reports the rest (:class:`ImportReport`);
:func:`export_agents` writes the current format. ``memgpt.Client`` exposes both
(``import_agent_file`` / ``export_agent_file``); the CLI and the server go through it.
"""

from __future__ import annotations

from memgpt.agentfile.exporter import export_agents
from memgpt.agentfile.importer import import_agent_file
from memgpt.agentfile.report import ImportedAgent, ImportReport, ReportItem
from memgpt.agentfile.schema import MAX_FILE_BYTES, parse_agent_file

__all__ = [
    "MAX_FILE_BYTES",
    "ImportReport",
    "ImportedAgent",
    "ReportItem",
    "export_agents",
    "import_agent_file",
    "parse_agent_file",
]
