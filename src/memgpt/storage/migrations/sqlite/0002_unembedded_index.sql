-- Partial indexes over rows still waiting for an embedding: finding them must not scan every row.
CREATE INDEX passages_unembedded ON passages (agent_id, rowid) WHERE embedding IS NULL;
CREATE INDEX messages_unembedded ON messages (agent_id, rowid) WHERE embedding IS NULL AND search_text != '';
