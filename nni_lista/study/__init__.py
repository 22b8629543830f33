"""The design-space study: config, plan of resumable units, summary, analysis and figures."""
