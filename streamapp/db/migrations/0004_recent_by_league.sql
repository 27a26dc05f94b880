-- The dashboard asks for a league's newest predictions and alerts (/db/predictions/recent
-- ?league=): without these, each request sorts every row of the league.
CREATE INDEX predictions_recent ON predictions (sport, league, as_of DESC);
CREATE INDEX alerts_recent ON alerts (sport, league, event_time DESC);
