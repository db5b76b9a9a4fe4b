"""Insights: mood by local day or week, practices and mood, and PHQ-9/GAD-7 around sessions."""
