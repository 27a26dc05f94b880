-- Predictions carry spread/total probabilities; alerts their line and the market's fair
-- probability; settlements the model (model-only / market-aware) and CLV against the same
-- bookmaker's close. Model performance is read off the settlements (a view, so it can never
-- disagree with them).
ALTER TABLE predictions ADD COLUMN lines jsonb NOT NULL DEFAULT '{}';
ALTER TABLE alerts ADD COLUMN line double precision;
ALTER TABLE alerts ADD COLUMN market_probability double precision;
ALTER TABLE settlements ADD COLUMN model text NOT NULL DEFAULT '';
ALTER TABLE settlements ADD COLUMN clv_same_book double precision;
CREATE INDEX settlements_game ON settlements (game_id);

DROP TABLE model_performance;
CREATE VIEW model_performance AS
SELECT model_version, model, sport, league, date_trunc('month', settled_at)::date AS period,
       count(*) FILTER (WHERE kind = 'prediction') AS n,
       avg(brier) FILTER (WHERE kind = 'prediction') AS brier,
       avg(log_loss) FILTER (WHERE kind = 'prediction') AS log_loss,
       count(*) FILTER (WHERE kind = 'alert') AS alerts,
       avg(profit) FILTER (WHERE kind = 'alert') AS roi,
       avg(clv) FILTER (WHERE kind = 'alert') AS clv,
       avg(clv_same_book) FILTER (WHERE kind = 'alert') AS clv_same_book
FROM settlements
GROUP BY model_version, model, sport, league, period;
