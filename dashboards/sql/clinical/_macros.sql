-- Helper in the in-memory catalog (shared by cursors): is an episode inside the chosen breakdown? (overall = all)
CREATE MACRO memory.main.in_breakdown(e, dim, lvl) AS
    dim = 'overall' OR lvl = CASE dim
        WHEN 'practice' THEN e.practice_id WHEN 'service' THEN e.service
        WHEN 'modality' THEN coalesce(e.modality, 'none') WHEN 'location' THEN coalesce(e.location, 'none')
        WHEN 'cohort' THEN e.cohort END
