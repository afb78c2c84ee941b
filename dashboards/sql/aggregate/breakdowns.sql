-- Every published breakdown (dimension, level) for the sidebar filters; engagement_summary has every episode.
SELECT dimension, level FROM aggregate.engagement_summary WHERE dimension <> 'overall' ORDER BY dimension, level
