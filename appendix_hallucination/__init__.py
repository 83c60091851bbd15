"""Appendix: hallucination — measure it, then reduce it (retrieval, "say you don't know", voting, grounding checks)."""
