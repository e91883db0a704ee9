-- Full-text matches are restricted to a source's published rows through this covering index, so a
-- search never reads the matching rows themselves (each carries its embedding).
CREATE INDEX source_passages_published ON source_passages (source_id, rowid) WHERE committed = 1;
