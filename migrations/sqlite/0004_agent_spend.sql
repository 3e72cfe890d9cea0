-- The agent (its name in the server's configuration) whose session made the call: an agent's
-- `monthly_usd` caps its spend across every repository.
ALTER TABLE model_calls ADD COLUMN agent TEXT NOT NULL DEFAULT '';
CREATE INDEX model_calls_agent_month ON model_calls (agent, month);
