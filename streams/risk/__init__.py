"""Joint risk management (issue #18): profiles both administrations signed, watchlists that the
other side cannot read back, AEO green lanes, pre-arrival assessments. Pure logic; the processor
calls ``streams.risk.stage.RiskStage`` through one small hook. See docs/risk.md."""
