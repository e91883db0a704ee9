"""Document sources: parse files, cut them into passages and load them into archival memory."""
