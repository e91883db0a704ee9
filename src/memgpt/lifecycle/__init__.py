"""The memory lifecycle: forgetting, retention and redaction policies, a user's data export.

Between the Client and the layers below it: these modules use the store (and, to rewrite a summary, an LLM)
and are used only by :class:`memgpt.Client`.
"""
